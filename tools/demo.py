"""`make demo`: the hook's main job end to end on a throwaway local PostgreSQL.

Starts a private cluster (the machine's PostgreSQL binaries, or the pgserver wheel's when none are
installed), then runs the real `alembic-hook` console script against it: check (env.py reaches this database),
status, upgrade to head, status, a second upgrade that finds nothing to do, and the ledger the runs left.
Removes the cluster afterwards, whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.localpg import throwaway

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "alembic-hook")


def main() -> int:
    print("== starting a throwaway PostgreSQL ...", flush=True)
    with throwaway() as pg:
        _create(pg.url(), "finops")
        url = pg.url("finops", sslmode="disable")
        shown = url.replace(url.split("//", 1)[1].split("@", 1)[0], "postgres:***")
        print(
            f"== PostgreSQL {pg.bindir.parent.name} on 127.0.0.1:{pg.port}; DATABASE_URL={shown}\n",
            flush=True,
        )
        env = {**os.environ, "DATABASE_URL": url, "ALEMBIC_CONFIG": str(REPO / "alembic.ini")}
        steps = [
            ("will a deploy migrate this database?", ["check"]),
            ("status before", ["status"]),
            ("migrate to head", ["upgrade"]),
            ("status after", ["status"]),
            ("run again: already at head", ["upgrade"]),
            ("the ledger", ["log"]),
        ]
        for title, args in steps:
            print(f"== {title}\n$ alembic-hook {' '.join(args)}", flush=True)
            code = subprocess.run([CLI, *args], env=env, check=False).returncode
            print(flush=True)
            if code != 0:
                print(f"demo: `alembic-hook {' '.join(args)}` exited {code}", file=sys.stderr)
                return code
        print("== done; removing the throwaway cluster")
    return 0


def _create(admin_url: str, name: str) -> None:
    import pg8000.native
    from sqlalchemy.engine import make_url

    u = make_url(admin_url)
    conn = pg8000.native.Connection(
        u.username or "postgres", password=u.password, host=u.host, port=u.port
    )
    try:
        conn.run(f"CREATE DATABASE {name}")
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())

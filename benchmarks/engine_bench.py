"""The engine against baselines, in one run on one throwaway PostgreSQL:

(a) "already at head": the engine (in process, and as the `alembic-hook` CLI) vs `alembic current`
(b) applying the five example migrations vs `alembic upgrade head`
(c) "already at head" with 10 vs 1,000 trivial revisions (heads index hit, and a miss: first run, no manifest)
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import median_ms, table
from lambda_fn.engine import manifest as heads_index
from lambda_fn.log import logger
from tests.support.database import ALEMBIC_INI, Database, create_database
from tests.support.engine import run
from tests.support.projects import chain, write_project
from tools.localpg import LocalPostgres, throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
BIN = Path(sys.executable).parent


def _alembic(db: Database, *args: str, ini: str = ALEMBIC_INI) -> None:
    # stock pg8000 fails on the CONCURRENTLY revision (see lambda_fn/postgres/dialect.py), so the baseline uses
    # the same fixed dialect through its entry point; it reads libpq's sslmode (verify-full when absent) and
    # the throwaway PostgreSQL serves no TLS
    url = db.url.replace("postgresql://", "postgresql+pg8000_hook://", 1)
    env = {**os.environ, "ALEMBIC_DATABASE_URL": url}
    subprocess.run([str(BIN / "alembic"), "-c", ini, *args], env=env, check=True, capture_output=True)


def _hook_cli(db: Database, *args: str) -> None:
    env = {**os.environ, **db.env()}
    subprocess.run([str(BIN / "alembic-hook"), *args], env=env, check=True, capture_output=True)


def _engine(db: Database, env: dict[str, str] | None = None) -> None:
    result = run(env or db.env())
    assert result.ok, result.message


def at_head(pg: LocalPostgres) -> str:
    db = create_database(pg)
    _engine(db)
    engine = median_ms(lambda: _engine(db), RUNS * 2)
    cli = median_ms(lambda: _hook_cli(db, "upgrade"), RUNS)
    alembic_current = median_ms(lambda: _alembic(db, "current"), RUNS)
    return table('(a) "already at head" (example project, 5 revisions)', [
        ("`alembic current` (command-line process)", alembic_current, None),
        ("`alembic-hook upgrade` (command-line process)", cli, alembic_current),
        ("engine `upgrade`, in process (a warm Lambda invocation)", engine, alembic_current),
    ], "`alembic current`")


def apply(pg: LocalPostgres) -> str:
    fresh: list[Database] = []

    def new_db() -> None:
        fresh.append(create_database(pg))

    alembic_up = median_ms(lambda: _alembic(fresh[-1], "upgrade", "head"), RUNS, setup=new_db)
    cli = median_ms(lambda: _hook_cli(fresh[-1], "upgrade"), RUNS, setup=new_db)
    engine = median_ms(lambda: _engine(fresh[-1]), RUNS, setup=new_db)
    return table("(b) applying the 5 example migrations to an empty database", [
        ("`alembic upgrade head` (command-line process)", alembic_up, None),
        ("`alembic-hook upgrade` (command-line process)", cli, alembic_up),
        ("engine `upgrade`, in process", engine, alembic_up),
    ], "`alembic upgrade head`")


def history(pg: LocalPostgres) -> str:
    rows: list[tuple[str, float, float | None]] = []
    base: float | None = None
    for n in (10, 1000):
        root = Path(tempfile.mkdtemp(prefix=f"bench-{n}-"))
        ini = write_project(root, chain(n))
        db = create_database(pg)
        env = db.env(ALEMBIC_CONFIG=str(ini))
        _engine(db, env)
        hit = median_ms(lambda env=env, db=db: _engine(db, env), RUNS * 2)  # type: ignore[misc]
        fp = heads_index.fingerprint([root / "migrations" / "versions"])

        def forget(fp: str = fp) -> None:
            heads_index._cache_file("heads", fp).unlink(missing_ok=True)

        miss = median_ms(lambda env=env, db=db: _engine(db, env), RUNS, setup=forget)  # type: ignore[misc]
        if base is None:
            base = hit
            rows.append((f"{n} revisions, heads index hit", hit, None))
        else:
            rows.append((f"{n} revisions, heads index hit", hit, base))
        rows.append((f"{n} revisions, index miss (imports every revision file)", miss, base))
    return table('(c) "already at head" through the engine vs the size of the history', rows, "10 revisions")


def main() -> int:
    logger.setLevel(logging.WARNING)
    print(f"Engine benchmarks: medians of {RUNS} runs (in-process rows: {RUNS * 2}), one throwaway PostgreSQL.")
    with throwaway() as pg:
        for section in (at_head, apply, history):
            print(section(pg), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

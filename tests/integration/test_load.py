"""The campaign's load case at a size for CI (issue 18): rounds of concurrent runner processes, each round on
a fresh database, each runner on the watched path (a deadline: the run in a worker thread under the
watchdog); every revision applied exactly once per database, in the version table and in the ledger."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

from tests.support.database import Database, create_database
from tests.support.projects import Rev, write_project

ROUNDS = 3
RUNNERS = 6
REVISIONS = 5


def _runner(env: dict[str, str], barrier: Any, out: Any) -> None:
    from tests.support.engine import run as run_in_child

    barrier.wait(timeout=60)  # every process is imported and ready: start together
    out.put(run_in_child(env, deadline=90.0).to_dict())


def test_concurrent_runners_on_fresh_databases_apply_every_revision_once(
    db: Database, tmp_path: Path
) -> None:
    revs = [
        Rev(
            f"l{i}",
            f"l{i - 1}" if i else None,
            f"op.execute('CREATE TABLE t{i} (id int)')\nop.execute('INSERT INTO t{i} VALUES ({i})')\n"
            "op.execute('SELECT pg_sleep(0.1)')",
        )
        for i in range(REVISIONS)
    ]
    ini = write_project(tmp_path, revs)
    ctx = mp.get_context("spawn")
    for _ in range(ROUNDS):
        fresh = create_database(db.cluster)
        env = fresh.env(ALEMBIC_CONFIG=str(ini), MIGRATION_LOCK_WAIT_SECONDS="60")
        barrier, out = ctx.Barrier(RUNNERS), ctx.Queue()
        procs = [ctx.Process(target=_runner, args=(env, barrier, out)) for _ in range(RUNNERS)]
        for p in procs:
            p.start()
        results = [out.get(timeout=180) for _ in procs]
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0
        assert {r["status"] for r in results} <= {"applied", "up_to_date"}, [
            r.get("error") for r in results
        ]
        applied = sorted(a["revision"] for r in results for a in r["applied"])
        # each exactly once, across all runners
        assert applied == [f"l{i}" for i in range(REVISIONS)]
        assert fresh.version() == [f"l{REVISIONS - 1}"]
        for i in range(REVISIONS):  # read back: each revision's data exactly once
            assert fresh.query(f"SELECT count(*) FROM t{i}") == [[1]]
        ledger = fresh.query(
            "SELECT revision, count(*) FROM alembic_hook_revisions WHERE direction = 'upgrade' "
            "GROUP BY revision ORDER BY revision"
        )
        assert ledger == [[f"l{i}", 1] for i in range(REVISIONS)]

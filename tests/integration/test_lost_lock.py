"""When a runner's lock session dies mid-run (issue 18, points 5 and 6): the runner that takes the lock next
says another runner moved the database and where it is, rather than "Fix the migration"; and a run closed
as `abandoned` records what it committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambda_fn.contract import ErrorKind, Status
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev, write_project

APP = "lost-lock-test"
SLOW_UPDATES = """
import os, time
for _ in range(20):
    op.execute("UPDATE app_items SET n = n + 1")
    if not op.get_context().as_sql:
        time.sleep(float(os.environ.get("HOOK_TEST_PAUSE", "0")))
"""
SETUP = Rev(
    "s1",
    None,
    "op.execute('CREATE TABLE app_items (id int PRIMARY KEY, n int NOT NULL)')\n"
    "op.execute('INSERT INTO app_items VALUES (1, 0), (2, 0)')",
)


def eventually(check: Callable[[], bool], bound: float, what: str) -> None:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > bound:
            pytest.fail(f"not within {bound:g} s: {what}")
        time.sleep(0.1)  # poll interval of a bounded wait


def in_transaction_holding_the_lock(db: Database) -> bool:
    busy = db.query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app "
        "AND state = 'idle in transaction' AND query LIKE 'UPDATE app_items%'",
        app=APP,
    )
    lock = db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
    return int(str(busy[0][0])) > 0 and int(str(lock[0][0])) == 1


@pytest.fixture
def runner(db: Database) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(ini: Path) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **db.env(ALEMBIC_CONFIG=str(ini), DB_APPLICATION_NAME=APP, HOOK_TEST_PAUSE="0.4"),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "lambda_fn.cli", "upgrade", "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        eventually(
            lambda: in_transaction_holding_the_lock(db),
            60,
            "the runner is inside the slow revision",
        )
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=30)


def test_the_next_runner_says_another_runner_moved_the_database_and_where_it_is(
    db: Database, tmp_path: Path, runner: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    ini = write_project(tmp_path, [SETUP, Rev("s2", "s1", SLOW_UPDATES)])
    assert run(db.env(ALEMBIC_CONFIG=str(ini)), revision="s1").status is Status.APPLIED
    first = runner(ini)
    # the first runner's lock session dies (a partition, say); its migration session goes on with s2
    assert db.query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
        "AND granted"
    ) == [[1]]
    # the second runner takes the lock, plans s2 from s1, waits on the first one's row locks (lock_timeout
    # long enough), and finds the version moved under it when the first one commits
    second = run(db.env(ALEMBIC_CONFIG=str(ini), DB_LOCK_TIMEOUT_SECONDS="60"))
    assert second.status is Status.FAILED and second.error is not None
    assert second.error.kind is ErrorKind.MOVED_BY_ANOTHER_RUNNER, second.message
    assert (
        "Another runner moved the database" in second.message
        and "Fix the migration" not in second.message
    )
    assert second.to_revision == "s2" and db.version() == ["s2"]  # where it is, read back
    # applied exactly once
    assert db.query("SELECT id, n FROM app_items ORDER BY id") == [
        [1, 20],
        [2, 20],
    ]
    assert db.query(
        "SELECT status, to_revision, error_kind FROM alembic_hook_runs WHERE id = :id",
        id=second.run_id,
    ) == [["failed", "s2", "moved_by_another_runner"]]
    first.wait(timeout=60)


def test_an_abandoned_run_records_what_it_committed(
    db: Database, tmp_path: Path, runner: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    ini = write_project(
        tmp_path,
        [
            SETUP,
            Rev("s2", "s1", "op.execute('UPDATE app_items SET n = -1')"),
            Rev("s3", "s2", SLOW_UPDATES),
        ],
    )
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env, revision="s1").status is Status.APPLIED
    first = runner(ini)  # s2 committed, inside s3
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    eventually(
        lambda: db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == [[0]],
        60,
        "the killed runner's sessions ended",
    )
    result = run(env)
    assert result.status is Status.APPLIED and [r.revision for r in result.applied] == ["s3"]
    [abandoned] = db.query(
        "SELECT from_revision, to_revision, error_message FROM alembic_hook_runs "
        "WHERE status = 'abandoned'"
    )
    assert abandoned[:2] == ["s1", "s2"], abandoned  # not "s1 -> (nothing)"
    assert "revisions it committed: s2" in str(abandoned[2])
    log = run(env, "log")
    [entry] = [e for e in log.log or [] if e.get("status") == "abandoned"]
    assert (entry.get("from_revision"), entry.get("to_revision")) == ("s1", "s2")

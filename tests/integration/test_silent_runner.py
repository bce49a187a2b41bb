"""A runner that stops talking (a frozen sandbox, a partition; here SIGSTOP on the CLI process) never leaves
locks behind: PostgreSQL itself ends its sessions within DB_IDLE_TIMEOUT_SECONDS, the application's table
takes writes again, and after SIGKILL the next run applies the revision exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambda_fn.contract import Status
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev, write_project

APP = "silent-runner-test"
IDLE = "2"
BOUND = 30.0  # seconds within which the server must have ended the silent sessions

# Python-side work between short statements, slow only in the CLI process that gets stopped
SLOW_UPDATES = """
import os, time
for _ in range(20):
    op.execute("UPDATE app_items SET n = n + 1")
    if not op.get_context().as_sql:  # not while the safety gate renders it offline
        time.sleep(float(os.environ.get("HOOK_TEST_PAUSE", "0")))
"""
SLOW_AUTOCOMMIT = """
import os, time
with op.get_context().autocommit_block():
    for _ in range(20):
        op.execute("SELECT 'autocommit work'")
        if not op.get_context().as_sql:
            time.sleep(float(os.environ.get("HOOK_TEST_PAUSE", "0")))
"""


def eventually(check: Callable[[], bool], bound: float, what: str) -> float:
    """Poll `check` until true within `bound` seconds; returns how long it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > bound:
            pytest.fail(f"not within {bound:g} s: {what}")
        time.sleep(0.1)  # poll interval of a bounded wait
    return time.monotonic() - started


def hook_locks(db: Database) -> int:
    rows = db.query(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE a.application_name = :app",
        app=APP,
    )
    return int(str(rows[0][0]))


def hook_sessions(db: Database, state: str, query: str) -> int:
    rows = db.query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app AND state = :state "
        "AND query LIKE :query",
        app=APP,
        state=state,
        query=query,
    )
    return int(str(rows[0][0]))


def advisory_locks(db: Database) -> int:
    rows = db.query(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return int(str(rows[0][0]))


@pytest.fixture
def stopped_runner(
    db: Database, tmp_path: Path
) -> Iterator[Callable[[str, str, str], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(revision_body: str, state: str, query: str) -> subprocess.Popen[bytes]:
        """Start the CLI on revision s2 and SIGSTOP it once a hook session is `state` after `query` while it
        holds the migration lock (checked before the stop: after it, the idle bound is already running)."""
        ini = write_project(
            tmp_path,
            [
                Rev(
                    "s1",
                    None,
                    "op.execute('CREATE TABLE app_items (id int PRIMARY KEY, n int NOT NULL)')\n"
                    "op.execute('INSERT INTO app_items VALUES (1, 0), (2, 0)')",
                ),
                Rev("s2", "s1", revision_body),
            ],
        )
        env = {
            **os.environ,
            **db.env(
                ALEMBIC_CONFIG=str(ini),
                DB_IDLE_TIMEOUT_SECONDS=IDLE,
                DB_APPLICATION_NAME=APP,
                HOOK_TEST_PAUSE="0.5",
            ),
        }
        assert run(db.env(ALEMBIC_CONFIG=str(ini)), revision="s1").status is Status.APPLIED
        proc = subprocess.Popen(
            [sys.executable, "-m", "lambda_fn.cli", "upgrade", "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        eventually(
            lambda: hook_sessions(db, state, query) > 0 and advisory_locks(db) == 1,
            60,
            f"the runner is {state} after {query}, holding the migration lock",
        )
        proc.send_signal(signal.SIGSTOP)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=30)


def test_a_runner_frozen_mid_transaction_frees_its_table_and_migration_locks(
    db: Database, tmp_path: Path, stopped_runner: Callable[[str, str, str], subprocess.Popen[bytes]]
) -> None:
    proc = stopped_runner(SLOW_UPDATES, "idle in transaction", "UPDATE app_items%")

    took = eventually(
        lambda: hook_locks(db) == 0, BOUND, "no lock of the stopped runner's sessions"
    )
    assert took < BOUND
    # the application's table takes writes again, without waiting
    app = db.admin()
    try:
        app.run("SET lock_timeout = '1s'")
        assert app.run("UPDATE app_items SET n = n WHERE id = 1 RETURNING id") == [[1]]
    finally:
        app.close()

    proc.kill()
    proc.wait(timeout=30)
    result = run(db.env(ALEMBIC_CONFIG=str(tmp_path / "alembic.ini")))
    assert result.status is Status.APPLIED and [r.revision for r in result.applied] == ["s2"]
    # applied exactly once
    assert db.query("SELECT id, n FROM app_items ORDER BY id") == [
        [1, 20],
        [2, 20],
    ]
    assert db.version() == ["s2"]


def test_a_runner_frozen_holding_only_the_migration_lock_releases_it(
    db: Database, tmp_path: Path, stopped_runner: Callable[[str, str, str], subprocess.Popen[bytes]]
) -> None:
    # in an autocommit block the migration session holds no table lock: only the lock session matters,
    # and it is ended because its heartbeat stopped
    proc = stopped_runner(SLOW_AUTOCOMMIT, "idle", "%autocommit work%")

    eventually(lambda: advisory_locks(db) == 0, BOUND, "the migration lock is free")

    proc.kill()
    proc.wait(timeout=30)
    result = run(
        db.env(ALEMBIC_CONFIG=str(tmp_path / "alembic.ini"), MIGRATION_LOCK_WAIT_SECONDS="5")
    )
    assert result.status is Status.APPLIED and [r.revision for r in result.applied] == ["s2"]
    assert result.lock_wait_ms < 5000
    assert db.version() == ["s2"]


def test_a_live_runner_keeps_its_lock_through_long_python_work(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the heartbeat, not the idle bound, decides: a slow but alive runner keeps its lock (checked before k2)
    monkeypatch.setenv("HOOK_TEST_PAUSE", "0.5")
    ini = write_project(
        tmp_path,
        [
            Rev("k1", None, SLOW_AUTOCOMMIT.replace("range(20)", "range(8)")),
            Rev("k2", "k1", "op.execute('SELECT 2')"),
        ],
    )
    result = run(
        db.env(ALEMBIC_CONFIG=str(ini), DB_IDLE_TIMEOUT_SECONDS="1.5"), application_name=APP
    )
    assert result.status is Status.APPLIED, result.message
    assert [r.revision for r in result.applied] == ["k1", "k2"]

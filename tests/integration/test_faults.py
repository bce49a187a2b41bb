"""Faults injected for real: a backend terminated mid-revision, a table lock held by the application."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.postgres.lock import lock_key
from lambda_fn.result import Result
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import SLEEP_SQL, Rev, write_project


def wait_for[T](condition: Callable[[], T], timeout: float = 30.0) -> T:
    """Poll the database state until `condition()` returns a truthy value (the state is the signal)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_backend_terminated_mid_revision(db: Database, tmp_path: Path) -> None:
    ini = write_project(
        tmp_path,
        [
            Rev("k1", None, "op.execute('CREATE TABLE k1 (id int)')"),
            Rev("k2", "k1", f"op.execute('CREATE TABLE k2 (id int)')\nop.execute({SLEEP_SQL!r})"),
            Rev("k3", "k2", "op.execute('CREATE TABLE k3 (id int)')"),
        ],
    )
    env = db.env(ALEMBIC_CONFIG=str(ini), DB_APPLICATION_NAME="victim")
    db.query(f"ALTER DATABASE {db.name} SET hook_test.sleep = '60'")
    box: list[Result] = []
    t = threading.Thread(target=lambda: box.append(run(env)))
    t.start()
    pid = wait_for(
        lambda: db.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'victim' "
            "AND query LIKE '%pg_sleep%' AND state = 'active'"
        )
    )[0][0]
    assert db.query("SELECT pg_terminate_backend(:pid)", pid=pid) == [[True]]
    t.join(timeout=60)
    result = box[0]

    assert result.status is Status.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.CONNECTION_LOST and result.error.revision == "k2"
    assert "k2" in result.message and "Run again" in result.message
    assert db.version() == ["k1"]
    assert db.query("SELECT to_regclass('k2') IS NULL") == [[True]]
    held = db.query(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :o",
        o=(lock_key("alembic_version") & 0xFFFFFFFF),
    )
    assert held == [[0]]  # the lock was released with the run

    db.query(f"ALTER DATABASE {db.name} RESET hook_test.sleep")
    rerun = run(env)
    assert rerun.status is Status.APPLIED, rerun.message
    assert [r.revision for r in rerun.applied] == ["k2", "k3"]


def test_table_lock_held_elsewhere_is_retried_then_fails_clearly(db: Database) -> None:
    assert run(db.env(), "upgrade", "0003_intents").status is Status.APPLIED
    app = db.admin()  # the application: a long transaction that read conversation_threads
    try:
        app.run("BEGIN")
        app.run("INSERT INTO conversation_threads (user_id) VALUES ('u1')")
        env = db.env(DB_LOCK_TIMEOUT_SECONDS="0.2", DB_LOCK_RETRIES="2")
        began = time.monotonic()
        result = run(env)  # 0004 alters conversation_threads: needs ACCESS EXCLUSIVE
        took = time.monotonic() - began
        assert result.error is not None and result.error.kind is ErrorKind.LOCK_TIMEOUT, (
            result.message
        )
        assert result.error.revision == "0004_executions" and "3 attempt(s)" in result.message
        assert "pg_locks" in result.message and took < 30
        assert db.version() == ["0003_intents"]
        # the other transaction is unharmed: it can still work and commit
        app.run("INSERT INTO conversation_threads (user_id) VALUES ('u2')")
        app.run("COMMIT")
    finally:
        app.close()
    assert db.query("SELECT count(*) FROM conversation_threads") == [[2]]
    assert run(db.env()).status is Status.APPLIED


def test_table_lock_released_during_retries_lets_the_revision_through(db: Database) -> None:
    assert run(db.env(), "upgrade", "0003_intents").status is Status.APPLIED
    app = db.admin()
    app.run("BEGIN")
    app.run("SELECT * FROM conversation_threads")
    env = db.env(DB_LOCK_TIMEOUT_SECONDS="0.3", DB_LOCK_RETRIES="8", DB_APPLICATION_NAME="retrier")
    box: list[Result] = []
    t = threading.Thread(target=lambda: box.append(run(env)))
    t.start()
    # once the migration has been refused the lock at least once (it is now backing off), release it
    wait_for(
        lambda: db.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'retrier' "
            "AND wait_event_type = 'Lock'"
        )
    )
    app.run("COMMIT")
    app.close()
    t.join(timeout=60)
    assert box[0].status is Status.APPLIED, box[0].message
    assert db.version() == ["0005_recommendations"]

"""Time in a revision's own Python is bounded by the run's deadline (issue 18, point 2).

A revision that never ends - quick statements in a Python loop, so no statement_timeout ever fires - and a
revision whose offline render (the safety gate's) never ends: each run is answered FAILED (deadline) while
the revision is still looping, with where the database is read back, and the database does not move after
the answer: the open revision rolled back, the run's sessions are gone, and once the interrupted thread has
unwound, nothing of it reached the database.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest

from lambda_fn.cli import build_lint
from lambda_fn.contract import ErrorKind, Status
from lambda_fn.engine import watchdog
from lambda_fn.result import Result
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev, write_project

# quick statements for 8 s or more, with a pause between them: statement_timeout never fires. Finite, so
# that without the watchdog the test fails (the revision commits after the deadline) rather than hangs.
LOOP_ONLINE = """
import time
op.execute('CREATE TABLE looped (n int)')
if not op.get_context().as_sql:
    for n in range(400):
        op.execute(f'INSERT INTO looped VALUES ({n})')
        time.sleep(0.02)
"""
# renders for 8 s or more (the safety gate's offline render runs the revision's code), applies at once online
LOOP_OFFLINE = """
import time
op.execute('CREATE TABLE rendered (n int)')
n = 0
while op.get_context().as_sql and n < 400:
    n += 1
    time.sleep(0.02)
"""
DEADLINE = 4.0  # seconds: long enough to connect and apply the first revision, half the looping one


def unwound() -> None:
    """Wait (by joining, not sleeping) until every interrupted run's thread has finished."""
    for thread in list(watchdog._unfinished):
        thread.join(30)
        assert not thread.is_alive(), "the interrupted revision never unwound"


def run_sessions(db: Database) -> list[list[object]]:
    return db.query(
        "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND application_name LIKE 'alembic-hook%'"
    )


def check_stopped(result: Result, db: Database, revision: str) -> None:
    assert result.status is Status.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.DEADLINE and result.error.revision == revision, (
        result.message
    )
    assert "PostgreSQL confirmed them gone" in result.message, result.message
    assert result.to_revision == "w0" and db.version() == ["w0"]  # read back, and true
    assert run_sessions(db) == []  # the run's sessions are gone at the answer


def test_a_revision_looping_in_python_is_stopped_at_the_deadline_and_rolled_back(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(
        tmp_path,
        [
            Rev("w0", None, "op.execute('CREATE TABLE base_t (id int)')"),
            Rev("w1", "w0", LOOP_ONLINE),
        ],
    )
    assert build_lint.main([str(ini), "--write"]) == 0  # the gate is not the subject here
    # a revision starts with > 2 s left
    env = db.env(ALEMBIC_CONFIG=str(ini), DB_LOCK_TIMEOUT_SECONDS="1")
    result = run(env, deadline=DEADLINE)
    check_stopped(result, db, "w1")
    assert "revision w1's Python" in result.message
    assert [r.revision for r in result.applied] == ["w0"]
    unwound()
    # after the answer nothing moved: the looping revision's table and rows were never committed
    assert db.version() == ["w0"]
    assert db.query("SELECT to_regclass('looped') IS NULL") == [[True]]
    assert run_sessions(db) == []
    # the process is free for the next run (which loops again)
    assert run(env, deadline=DEADLINE).error is not None
    unwound()


def test_a_revision_rendering_forever_in_the_gate_is_stopped_at_the_deadline(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no lint record of an earlier run on this machine
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ini = write_project(tmp_path, [Rev("w0", None, "op.execute('CREATE TABLE base_t (id int)')")])
    # a revision starts with > 2 s left
    env = db.env(ALEMBIC_CONFIG=str(ini), DB_LOCK_TIMEOUT_SECONDS="1")
    assert run(env).status is Status.APPLIED
    (tmp_path / "migrations" / "versions" / "w1.py").write_text(
        (tmp_path / "migrations" / "versions" / "w0.py")
        .read_text()
        .replace("revision = 'w0'", "revision = 'w1'")
        .replace("down_revision = None", "down_revision = 'w0'")
        .replace(
            "    op.execute('CREATE TABLE base_t (id int)')",
            "\n".join("    " + line for line in LOOP_OFFLINE.strip().splitlines()),
        )
    )
    result = run(env, deadline=DEADLINE)
    check_stopped(result, db, result.error.revision if result.error else "")
    unwound()
    assert db.version() == ["w0"] and db.query("SELECT to_regclass('rendered') IS NULL") == [[True]]


def test_a_run_that_finishes_in_time_is_not_touched_by_the_watchdog(
    db: Database, tmp_path: Path
) -> None:
    threads = threading.active_count()
    result = run(db.env(), deadline=60.0)
    assert result.status is Status.APPLIED and db.version() == ["0005_recommendations"]
    assert threading.active_count() == threads  # the worker is gone
    assert not watchdog._unfinished


@pytest.fixture(autouse=True)
def _no_leftover_runs() -> None:
    unwound()

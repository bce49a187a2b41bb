"""One runner at a time, proven with real processes against the real database."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pg8000.native

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.postgres.lock import lock_key
from tests.support.database import Database, create_database
from tests.support.engine import run
from tests.support.projects import Rev, write_project

RUNNERS = 8
LOCK_WAIT = 30.0


def _runner(env: dict[str, str], barrier: Any, out: Any) -> None:
    from tests.support.engine import run as run_in_child

    barrier.wait(timeout=60)  # every process is imported and ready: start together
    out.put(run_in_child(env).to_dict())


def test_simultaneous_upgrades_apply_each_revision_exactly_once(
    db: Database, tmp_path: Path
) -> None:
    # Slow revisions keep the first runner inside the lock while the others arrive.
    revs = [
        Rev(
            f"c{i}",
            f"c{i - 1}" if i else None,
            f"op.execute('CREATE TABLE t{i} (id int)')\nop.execute('SELECT pg_sleep(0.3)')",
        )
        for i in range(4)
    ]
    ini = write_project(tmp_path, revs)
    env = db.env(ALEMBIC_CONFIG=str(ini), MIGRATION_LOCK_WAIT_SECONDS=str(LOCK_WAIT))
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(RUNNERS), ctx.Queue()
    procs = [ctx.Process(target=_runner, args=(env, barrier, out)) for _ in range(RUNNERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0

    statuses = sorted(r["status"] for r in results)
    assert set(statuses) <= {"applied", "up_to_date"}, [r.get("error") for r in results]
    applied = [a["revision"] for r in results for a in r["applied"]]
    assert sorted(applied) == ["c0", "c1", "c2", "c3"]  # each exactly once, across all runners
    assert db.version() == ["c3"]
    assert all(r["lock_wait_ms"] < LOCK_WAIT * 1000 for r in results)
    # the winner holds the lock for the whole run, so every other runner finds the work done
    assert statuses.count("applied") == 1


def _hold_lock(db: Database, name: str, app: str) -> pg8000.native.Connection:
    conn = db.admin()
    conn.run(f"SET application_name = '{app}'")
    assert conn.run("SELECT pg_try_advisory_lock(:k)", k=lock_key(name))[0][0]
    return conn


def test_lock_wait_runs_out_with_the_holder_named(db: Database) -> None:
    holder = _hold_lock(db, "alembic_version", "deploy-42-other-runner")
    try:
        result = run(db.env(MIGRATION_LOCK_WAIT_SECONDS="0.5"))
        assert result.error is not None and result.error.kind is ErrorKind.MIGRATION_LOCKED
        pid = holder.run("SELECT pg_backend_pid()")[0][0]
        assert f"pid {pid}" in result.message and "deploy-42-other-runner" in result.message
        assert "connected since" in result.message and "pg_terminate_backend" in result.message
        assert 500 <= result.duration_ms < 10_000
        assert db.version() == []  # nothing ran
    finally:
        holder.close()
    assert run(db.env()).status is Status.APPLIED  # the lock went with the holder's session


def test_services_in_different_databases_do_not_block_each_other(db: Database) -> None:
    other = create_database(db.cluster)
    holder = _hold_lock(other, "alembic_version", "other-service")
    try:
        result = run(db.env(MIGRATION_LOCK_WAIT_SECONDS="0.5"))
        assert result.status is Status.APPLIED, result.message
    finally:
        holder.close()


def test_services_sharing_a_database_use_distinct_lock_names(db: Database) -> None:
    holder = _hold_lock(db, "billing-service", "billing")
    try:
        result = run(
            db.env(MIGRATION_LOCK_WAIT_SECONDS="0.5", MIGRATION_LOCK_NAME="finops-service")
        )
        assert result.status is Status.APPLIED, result.message
    finally:
        holder.close()


def test_holder_details_hidden_by_privileges_still_give_a_clear_error(db: Database) -> None:
    """A role without pg_read_all_stats sees another role's session with its details blanked."""
    db.query(
        "DO $$ BEGIN CREATE ROLE hook_app LOGIN PASSWORD 'app-pw'; EXCEPTION WHEN duplicate_object THEN "
        "NULL; END $$"
    )
    db.query(f"GRANT ALL ON DATABASE {db.name} TO hook_app")
    db.query("GRANT ALL ON SCHEMA public TO hook_app")
    holder = _hold_lock(db, "alembic_version", "superuser-runner")
    try:
        url = db.cluster.url(db.name, user="hook_app", password="app-pw", sslmode="disable")
        result = run(db.env(DATABASE_URL=url, MIGRATION_LOCK_WAIT_SECONDS="0.3"))
        assert result.error is not None and result.error.kind is ErrorKind.MIGRATION_LOCKED, (
            result.message
        )
        pid = holder.run("SELECT pg_backend_pid()")[0][0]
        assert f"pid {pid}" in result.message and "pg_terminate_backend" in result.message
    finally:
        holder.close()

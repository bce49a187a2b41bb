"""The engine against a real PostgreSQL: the example migrations and generated failure scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_fn.contract import ErrorKind, Status
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev, write_project, write_revision

HEAD = "0005_recommendations"
EXAMPLE = [
    "0001_threads",
    "0002_messages",
    "0003_intents",
    "0004_executions",
    "0005_recommendations",
]

SCHEMA_SQL = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' '
       || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT 'index', indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT 'constraint', conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


def schema(db: Database) -> list[list[object]]:
    return db.query(SCHEMA_SQL)


def test_upgrade_downgrade_upgrade_gives_the_same_schema(db: Database) -> None:
    first = run(db.env())
    assert first.status is Status.APPLIED, first.message
    assert [r.revision for r in first.applied] == EXAMPLE
    assert all(r.duration_ms > 0 for r in first.applied)
    assert (first.from_revision, first.to_revision) == (None, HEAD)
    assert db.version() == [HEAD]
    after_first = schema(db)
    # CONCURRENTLY ran
    assert any("ix_conversation_messages_thread_created" in str(row) for row in after_first)

    down = run(db.env(), "downgrade", "base", confirmed=True)
    assert down.status is Status.APPLIED, down.message
    assert [r.revision for r in down.applied] == list(reversed(EXAMPLE))
    assert db.version() == []
    assert [
        row
        for row in schema(db)
        if not any(own in str(row) for own in ("alembic_version", "alembic_hook_"))
    ] == []

    again = run(db.env())
    assert again.status is Status.APPLIED, again.message
    assert schema(db) == after_first


def test_already_at_head_is_up_to_date_and_takes_no_lock(db: Database) -> None:
    run(db.env())
    result = run(db.env())
    assert result.status is Status.UP_TO_DATE
    assert result.applied == [] and result.lock_wait_ms == 0.0
    assert (result.from_revision, result.to_revision) == (HEAD, HEAD)
    assert "already at" in result.message


def test_data_migration_backfills_existing_rows(db: Database) -> None:
    assert run(db.env(), "upgrade", "0003_intents").status is Status.APPLIED
    db.query(
        "INSERT INTO conversation_threads (id, user_id) VALUES ('00000000-0000-0000-0000-000000000001', 'u')"
    )
    db.query(
        "INSERT INTO conversation_messages (thread_id, role, content, created_at) VALUES "
        "('00000000-0000-0000-0000-000000000001', 'user', 'hi', '2026-01-02T03:04:05Z')"
    )
    assert run(db.env()).status is Status.APPLIED
    rows = db.query("SELECT last_message_at::text FROM conversation_threads")
    assert rows == [["2026-01-02 03:04:05+00"]]


def test_status_lists_pending_then_nothing(db: Database) -> None:
    before = run(db.env(), "status")
    assert before.status is Status.PENDING and before.pending == EXAMPLE and before.heads == [HEAD]
    run(db.env(), "upgrade", "0002_messages")
    mid = run(db.env(), "status")
    assert mid.pending == EXAMPLE[2:] and mid.from_revision == "0002_messages"
    run(db.env())
    assert run(db.env(), "status").status is Status.UP_TO_DATE


def test_upgrade_to_a_revision_already_passed_changes_nothing(db: Database) -> None:
    run(db.env())
    result = run(db.env(), "upgrade", "0002_messages")
    assert result.status is Status.UP_TO_DATE and result.applied == []
    assert db.version() == [HEAD]


def test_sql_renders_only_the_pending_range(db: Database) -> None:
    run(db.env(), "upgrade", "0003_intents")
    result = run(db.env(), "sql")
    assert result.status is Status.PENDING and result.sql
    assert (
        "CREATE TABLE agent_executions" in result.sql
        and "CREATE TABLE query_intents" not in result.sql
    )
    assert "CREATE INDEX CONCURRENTLY" in result.sql
    assert db.version() == ["0003_intents"]  # review only


def test_history_marks_current_and_applied(db: Database) -> None:
    run(db.env(), "upgrade", "0002_messages")
    history = run(db.env(), "history").history
    assert history is not None
    by_rev = {h["revision"]: h for h in history}
    assert by_rev["0002_messages"]["is_current"] and by_rev["0001_threads"]["applied"]
    assert not by_rev["0003_intents"]["applied"] and by_rev[HEAD]["is_head"]


@pytest.mark.parametrize("command", ["downgrade", "stamp"])
def test_destructive_commands_need_confirmation(db: Database, command: str) -> None:
    run(db.env())
    result = run(db.env(), command, "base")
    assert result.status is Status.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.CONFIRMATION_REQUIRED
    assert db.version() == [HEAD]


def test_stamp_records_a_revision_without_ddl(db: Database) -> None:
    result = run(db.env(), "stamp", "0003_intents", confirmed=True)
    assert result.status is Status.APPLIED, result.message
    assert db.version() == ["0003_intents"]
    assert db.query("SELECT to_regclass('conversation_threads') IS NULL") == [[True]]


def test_bad_revision_is_refused_with_a_pointer_to_history(db: Database) -> None:
    result = run(db.env(), "upgrade", "nope")
    assert result.error is not None and result.error.kind is ErrorKind.BAD_REVISION
    assert "history" in result.message and db.version() == []


def test_skip_migrations_never_touches_the_database(db: Database) -> None:
    env = db.env(SKIP_MIGRATIONS="true", DATABASE_URL="postgresql://u:p@127.0.0.1:1/nowhere")
    result = run(env)
    assert result.status is Status.SKIPPED and result.error is None


def test_missing_database_is_created_only_when_asked(db: Database) -> None:
    env = db.env(
        DATABASE_URL=db.cluster.url(f"{db.name}_new", sslmode="disable"), DB_WAIT_SECONDS="2"
    )
    refused = run(env)
    assert refused.error is not None and refused.error.kind is ErrorKind.DATABASE_MISSING
    assert "CREATE_DATABASE" in refused.message
    created = run({**env, "CREATE_DATABASE": "true"})
    assert created.status is Status.APPLIED, created.message


def test_failing_revision_leaves_the_previous_one_and_a_rerun_continues(
    db: Database, tmp_path: Path
) -> None:
    good = "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))"
    broken = (
        "op.create_table('b', sa.Column('id', sa.Integer, primary_key=True))\n"
        "op.execute('SELECT * FROM no_such_table')"
    )
    ini = write_project(
        tmp_path,
        [
            Rev("r1", None, good),
            Rev("r2", "r1", broken),
            Rev("r3", "r2", "op.create_table('c', sa.Column('id', sa.Integer))"),
        ],
    )
    env = db.env(ALEMBIC_CONFIG=str(ini))
    failed = run(env)
    assert failed.status is Status.FAILED and failed.error is not None
    assert failed.error.kind is ErrorKind.MIGRATION_FAILED and failed.error.revision == "r2"
    assert "r2" in failed.message and "no_such_table" in failed.message
    assert [r.revision for r in failed.applied] == ["r1"] and failed.to_revision == "r1"
    assert db.version() == ["r1"]
    # r2's first statement rolled back too
    assert db.query("SELECT to_regclass('b') IS NULL") == [[True]]

    write_revision(
        tmp_path,
        Rev("r2", "r1", "op.create_table('b', sa.Column('id', sa.Integer, primary_key=True))"),
    )
    rerun = run(env)
    assert rerun.status is Status.APPLIED, rerun.message
    assert [r.revision for r in rerun.applied] == ["r2", "r3"] and db.version() == ["r3"]


def test_multiple_heads_are_refused_before_any_ddl(db: Database, tmp_path: Path) -> None:
    create = "op.create_table('{}', sa.Column('id', sa.Integer))"
    ini = write_project(
        tmp_path,
        [
            Rev("base1", None, create.format("t0")),
            Rev("left", "base1", create.format("t1")),
            Rev("right", "base1", create.format("t2")),
        ],
    )
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.error is not None and result.error.kind is ErrorKind.MULTIPLE_HEADS
    assert "left" in result.message and "right" in result.message and "merge" in result.message
    assert db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [[0]]


def test_unknown_database_revision_is_refused_before_any_ddl(db: Database) -> None:
    db.query("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    db.query("INSERT INTO alembic_version VALUES ('9999_from_newer_code')")
    result = run(db.env())
    assert result.error is not None and result.error.kind is ErrorKind.UNKNOWN_DATABASE_REVISION
    assert (
        "9999_from_newer_code" in result.message and result.error.revision == "9999_from_newer_code"
    )
    assert db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [[1]]
    # the operator's way out: a reviewed stamp
    assert run(db.env(), "stamp", "0002_messages", confirmed=True).status is Status.APPLIED
    assert db.version() == ["0002_messages"]


def test_deadline_stops_before_a_revision_that_cannot_finish(db: Database, tmp_path: Path) -> None:
    # revisions of 1.5 s (under MIN_STEP_SECONDS, so a started one always finishes) in an 8 s deadline: the
    # first starts unless the work before it (project, env.py probe, gate, lock) takes over 6 s on a loaded
    # machine, and the fifth can never start with the 2 s a revision needs
    slow = "op.execute('SELECT pg_sleep(1.5)')"
    names = [f"s{i}" for i in range(1, 6)]
    ini = write_project(
        tmp_path, [Rev(name, names[i - 1] if i else None, slow) for i, name in enumerate(names)]
    )
    result = run(db.env(ALEMBIC_CONFIG=str(ini), DB_LOCK_TIMEOUT_SECONDS="0.5"), deadline=8)
    assert result.error is not None and result.error.kind is ErrorKind.DEADLINE, result.message
    assert result.error.revision in names[1:]
    assert db.version() == [result.to_revision] and "Run again" in result.message


def test_a_migrations_reset_cannot_lift_the_statement_timeout_past_the_deadline(
    db: Database, tmp_path: Path
) -> None:
    probe = (
        "op.execute('RESET statement_timeout')\n"
        "op.execute(\"CREATE TABLE seen AS SELECT current_setting('statement_timeout') AS v, "
        "current_setting('lock_timeout') AS l\")"
    )
    ini = write_project(tmp_path, [Rev("p1", None, probe)])
    result = run(db.env(ALEMBIC_CONFIG=str(ini), DB_STATEMENT_TIMEOUT_SECONDS="600"), deadline=30)
    assert result.status is Status.APPLIED, result.message
    [[timeout, lock]] = db.query("SELECT v, l FROM seen")
    # the startup value, not the configured 600 s ("10min")
    assert str(timeout).endswith("ms"), timeout
    assert 20_000 <= int(str(timeout).removesuffix("ms")) <= 30_000, timeout
    assert lock == "5s"

"""Rehearsal against a real PostgreSQL: the target and its copy on one server (both made with CREATE DATABASE
... TEMPLATE from one template built once per session: a table of a million rows at r1), each revision run on
the copy and measured from pg_locks, relfilenode and the cursor; the target's schema and version never move;
the verdict, the ledger record and the production run's gate; the refusals before any DDL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from lambda_fn.deadline import Deadline
from lambda_fn.engine.execute import execute
from lambda_fn.request import Command, CopyDatabase, Request
from lambda_fn.result import Result
from lambda_fn.settings import Settings
from tests.support.database import Database
from tests.support.engine import run
from tests.support.paths import REPO
from tests.support.projects import Rev, write_project, write_revision
from tools.localpg import SUPERUSER_PASSWORD, LocalPostgres

ROWS = 1_000_000
R1 = Rev(
    "r1",
    None,
    "op.execute('CREATE TABLE orders (id int PRIMARY KEY, note varchar(50), amount int)')",
)


def _admin(pg: LocalPostgres) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        "postgres", password=SUPERUSER_PASSWORD, host=pg.host, port=pg.port
    )


def _clone(pg: LocalPostgres, template: str) -> Database:
    name = f"r_{uuid.uuid4().hex[:12]}"
    conn = _admin(pg)
    try:  # nobody may be connected to a template while it is copied
        conn.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d", d=template
        )
        conn.run(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        conn.close()
    return Database(pg, name)


@pytest.fixture(scope="session")
def template(pg: LocalPostgres, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database at r1 (through the hook, so its ledger exists) with a million analyzed rows in `orders`."""
    root = tmp_path_factory.mktemp("rehearsal-template")
    db = _clone(pg, "template1")
    assert run(db.env(ALEMBIC_CONFIG=str(write_project(root, [R1])))).ok
    db.query(
        f"INSERT INTO orders SELECT g, 'n' || g, g FROM generate_series(1, {ROWS}) g; ANALYZE orders"
    )
    return db.name


@dataclass
class Pair:
    root: Path
    ini: Path
    target: Database
    copy: Database

    def env(self) -> dict[str, str]:
        return self.target.env(ALEMBIC_CONFIG=str(self.ini), MIGRATION_LOCK_WAIT_SECONDS="5")

    def policy(self, **keys: object) -> None:
        lines = "".join(f"{k} = {v}\n" for k, v in keys.items())
        self.ini.write_text(
            self.ini.read_text().split("[alembic_hook]")[0] + f"[alembic_hook]\n{lines}"
        )

    def rehearse(self, revision: str | None = None, copy: Database | None = None) -> Result:
        request = Request(
            Command.REHEARSE,
            revision,
            copy=CopyDatabase(url=(copy or self.copy).url, kind="template"),
        )
        return execute(request, Settings.from_env(self.env()), deadline=Deadline(300))

    def upgrade(self) -> Result:
        return run(self.env(), deadline=300)


@pytest.fixture
def pair(pg: LocalPostgres, template: str, tmp_path: Path) -> Iterator[Pair]:
    ini = write_project(tmp_path, [R1])
    made = Pair(tmp_path, ini, _clone(pg, template), _clone(pg, template))
    yield made
    conn = _admin(pg)  # a million rows twice per test: give the disk back
    try:
        for db in (made.target, made.copy):
            conn.run(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
    finally:
        conn.close()


def add(pair: Pair, rev: str, down: str, code: str) -> None:
    write_revision(pair.root, Rev(rev, down, code))


def schema(db: Database) -> list[list[Any]]:
    """The application's schema (the hook's ledger tables aside) and its version."""
    return (
        db.query(
            "SELECT table_name, column_name, data_type, character_maximum_length FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name NOT LIKE 'alembic_hook_%' ORDER BY 1, 2"
        )
        + db.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE "
            "'alembic_hook_%' ORDER BY 1"
        )
        + [db.version()]
        + db.query(
            "SELECT pg_relation_filenode('orders')::int8, obj_description('orders'::regclass)"
        )
    )


def rehearsed(pair: Pair, revision: str | None = None) -> tuple[Result, dict[str, Any]]:
    """Rehearse and check the target did not move, then the one revision's measurement."""
    before = schema(pair.target)
    result = pair.rehearse(revision)
    assert schema(pair.target) == before
    assert result.rehearsal is not None, result.message
    return result, result.rehearsal["revisions"][-1]


def locks_on(measure: dict[str, Any], table: str = "public.orders") -> dict[str, dict[str, Any]]:
    return {lk["mode"]: lk for lk in measure["locks"] if lk["table"] == table and not lk["created"]}


def statement(measure: dict[str, Any], start: str) -> dict[str, Any]:
    return next(s for s in measure["statements"] if s["sql"].upper().startswith(start.upper()))


# --- what the measurement shows ---------------------------------------------------------------------


def test_an_index_without_concurrently_blocks_writes_for_the_build(pair: Pair) -> None:
    add(pair, "r2", "r1", "op.create_index('ix_orders_note', 'orders', ['note'])")
    result, m = rehearsed(pair)
    assert result.ok, result.message
    share = locks_on(m)["ShareLock"]
    build = statement(m, "CREATE INDEX")
    assert share["statement"] == build["index"] and share["rows"] and not share["created"]
    # taken when the build started, held until commit: at least the build, at most the revision
    assert build["duration_s"] <= share["held_s"] <= m["duration_s"]
    assert "AccessExclusiveLock" not in locks_on(m) and m["rewritten"] == []
    # the copy has the index now, the target does not
    assert pair.copy.query("SELECT to_regclass('ix_orders_note') IS NOT NULL")[0][0]
    assert not pair.target.query("SELECT to_regclass('ix_orders_note') IS NOT NULL")[0][0]


def test_an_index_built_concurrently_blocks_nothing(pair: Pair) -> None:
    add(
        pair,
        "r2",
        "r1",
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_orders_note', 'orders', ['note'], postgresql_concurrently=True)",
    )
    result, m = rehearsed(pair)
    assert result.ok, result.message
    assert [
        lk
        for lk in m["locks"]
        if lk["mode"]
        not in ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock")
        and lk["table"] == "public.orders"
    ] == []
    assert statement(m, "CREATE INDEX CONCURRENTLY")["autocommit"]
    assert pair.copy.query(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_orders_note'::regclass"
    )[0][0]


def test_a_lock_inside_an_autocommit_block_is_sampled_and_judged(pair: Pair) -> None:
    """Outside a transaction a statement's locks end with it: the sampler's session sees them while it runs,
    each reported as held for the whole statement, and the policy judges them like any other."""
    pair.policy(rehearsal_max_lock_seconds=0.1)
    add(
        pair,
        "r2",
        "r1",
        "with op.get_context().autocommit_block():\n"
        "    op.execute('ALTER TABLE orders ALTER COLUMN amount TYPE bigint')",
    )
    result = pair.rehearse()
    assert result.rehearsal is not None, result.message
    [m] = result.rehearsal["revisions"]
    alter = statement(m, "ALTER TABLE")
    assert alter["autocommit"] and "ACCESS EXCLUSIVE on public.orders" in alter["locks"]
    lock = locks_on(m)["AccessExclusiveLock"]
    assert lock["sampled"] and lock["rows"] and lock["statement"] == alter["index"]
    assert lock["held_s"] == alter["duration_s"]
    assert not result.ok and result.error is not None and result.error.kind == "unsafe_migration"
    assert "blocks reads and writes on public.orders" in result.message


def test_int_to_bigint_rewrites_the_table(pair: Pair) -> None:
    add(pair, "r2", "r1", "op.alter_column('orders', 'amount', type_=sa.BigInteger())")
    before = pair.copy.query("SELECT pg_relation_filenode('orders')::int8")[0][0]
    result, m = rehearsed(pair)
    after = pair.copy.query("SELECT pg_relation_filenode('orders')::int8")[0][0]
    assert before != after and m["rewritten"] == ["public.orders"]
    alter = statement(m, "ALTER TABLE")
    assert alter["rewrote"] == ["public.orders"]
    assert locks_on(m)["AccessExclusiveLock"]["held_s"] >= alter["duration_s"]
    assert result.ok, result.message  # 3 s allowed by default: a million narrow rows rewrite faster


def test_varchar_50_to_100_neither_rewrites_nor_holds_a_long_lock(pair: Pair) -> None:
    add(pair, "r2", "r1", "op.alter_column('orders', 'note', type_=sa.String(100))")
    before = pair.copy.query("SELECT pg_relation_filenode('orders')::int8")[0][0]
    result, m = rehearsed(pair)
    assert pair.copy.query("SELECT pg_relation_filenode('orders')::int8")[0][0] == before
    assert m["rewritten"] == [] and statement(m, "ALTER TABLE")["rewrote"] == []
    assert result.ok and result.rehearsal is not None and result.rehearsal["within_policy"], (
        result.message
    )
    assert pair.copy.query(
        "SELECT character_maximum_length FROM information_schema.columns WHERE "
        "table_name = 'orders' AND column_name = 'note'"
    ) == [[100]]


def test_lock_table_holds_access_exclusive_until_commit(pair: Pair) -> None:
    add(pair, "r2", "r1", "op.execute('LOCK TABLE orders')\nop.execute('SELECT pg_sleep(0.2)')")
    _, m = rehearsed(pair)
    lock = locks_on(m)["AccessExclusiveLock"]
    assert lock["statement"] == statement(m, "LOCK TABLE")["index"]
    assert lock["held_s"] >= statement(m, "SELECT pg_sleep")["duration_s"]
    assert m["locks"] and any(lk["mode"] == "AccessExclusiveLock" for lk in m["locks"])


def test_a_full_table_update_shows_its_row_locks(pair: Pair) -> None:
    add(pair, "r2", "r1", "op.execute(\"UPDATE orders SET note = 'x'\")")
    _, m = rehearsed(pair)
    update = statement(m, "UPDATE")
    assert update["rowcount"] == ROWS
    assert pair.copy.query("SELECT count(*) FROM orders WHERE note = 'x'")[0][0] == ROWS
    assert "RowExclusiveLock" in locks_on(m)
    [rows] = [r for r in m["row_locks"] if r["table"] == "public.orders"]
    assert (
        rows["rows"] == ROWS
        and rows["statement"] == update["index"]
        and rows["held_s"] >= update["duration_s"]
    )
    # a new version of every row: the table grew, as the snapshot at the revision's last COMMIT saw it
    assert m["growth_bytes"] > 0


def test_a_revision_that_reads_the_database_is_measured_and_gets_its_rows(pair: Pair) -> None:
    add(
        pair,
        "r2",
        "r1",
        "n = op.get_bind().execute(sa.text('SELECT count(*) FROM orders')).scalar()\n"
        "op.execute(f\"COMMENT ON TABLE orders IS 'rows {n}'\")",
    )
    result, m = rehearsed(pair)
    assert result.ok, result.message
    assert pair.copy.query("SELECT obj_description('orders'::regclass)") == [[f"rows {ROWS}"]]
    assert statement(m, "SELECT count(*)")["rowcount"] == 1
    assert "ShareUpdateExclusiveLock" in locks_on(m)  # COMMENT ON TABLE


def test_over_policy_exits_failed_with_the_numbers_and_is_recorded(pair: Pair) -> None:
    pair.policy(rehearsal_max_lock_seconds=0.1)
    add(
        pair,
        "r2",
        "r1",
        "op.execute('LOCK TABLE orders IN SHARE MODE')\nop.execute('SELECT pg_sleep(0.3)')",
    )
    result = pair.rehearse()
    assert not result.ok and result.error is not None and result.error.kind == "unsafe_migration"
    assert "LOCK TABLE orders IN SHARE MODE: blocks writes on public.orders for" in result.message
    assert "0.1 s allowed" in result.message
    rows = pair.target.query(
        "SELECT revision, target_revision, measurement->>'revision' FROM alembic_hook_rehearsals"
    )
    assert rows == [["r2", "r1", "r2"]]


def test_a_dropped_table_is_named_by_what_it_was(pair: Pair) -> None:
    add(pair, "r2", "r1", "op.drop_table('orders')")
    _, m = rehearsed(pair)
    # the DROP's locks are read after it ran, when orders, its index and its TOAST table have no pg_class row
    assert locks_on(m)["AccessExclusiveLock"]["rows"]
    assert [lk for lk in m["locks"] if lk["table"].isdigit()] == []
    assert statement(m, "DROP TABLE")["locks"] == ["ACCESS EXCLUSIVE on public.orders"]


def test_only_statements_that_cannot_lock_a_relation_go_unread(pair: Pair) -> None:
    """SET and a SELECT of constants are not followed by a pg_locks read; everything else is, even after a
    migration drops every prepared statement of the session (the recorder's own too)."""
    add(
        pair,
        "r2",
        "r1",
        "op.execute('SET LOCAL work_mem = 65536')\nop.execute('SELECT 1')\n"
        "op.execute('DEALLOCATE ALL')\nop.execute('LOCK TABLE orders IN SHARE MODE')\n"
        "op.execute('SET CONSTRAINTS ALL IMMEDIATE')",
    )
    result, m = rehearsed(pair)
    assert result.ok, result.message
    share = locks_on(m)["ShareLock"]
    assert share["statement"] == statement(m, "LOCK TABLE")["index"]
    assert statement(m, "SELECT 1")["locks"] == [] and statement(m, "SET LOCAL")["locks"] == []
    # Alembic's own version-row write is bookkeeping: not read, not reported
    assert [lk for lk in m["locks"] if lk["table"].endswith("alembic_version")] == []


# --- the production run -------------------------------------------------------------------------------

INDEX = "op.create_index('ix_orders_note', 'orders', ['note'])"


def _index_on_target(pair: Pair) -> bool:
    return bool(pair.target.query("SELECT to_regclass('ix_orders_note') IS NOT NULL")[0][0])


def test_a_static_refusal_passes_with_a_fresh_rehearsal_within_policy(pair: Pair) -> None:
    add(pair, "r2", "r1", INDEX)
    refused = pair.upgrade()
    assert not refused.ok and refused.error is not None and refused.error.kind == "unsafe_migration"
    pair.policy(rehearsal_max_lock_seconds=600)
    assert pair.rehearse().ok
    result = pair.upgrade()
    assert result.ok, result.message
    assert _index_on_target(pair) and pair.target.version() == ["r2"]
    passed = [f for f in result.findings or [] if f.rule == "require-concurrent-index-creation"]
    assert (
        passed and not passed[0].refused and "rehearsed on a template" in (passed[0].judged or "")
    )


def test_a_static_refusal_stays_refused_with_a_rehearsal_beyond_policy(pair: Pair) -> None:
    pair.policy(rehearsal_max_lock_seconds=0)
    add(pair, "r2", "r1", INDEX)
    assert not pair.rehearse().ok
    result = pair.upgrade()
    assert not result.ok and "blocks writes on public.orders for" in result.message, result.message
    measured = [f for f in result.findings or [] if f.rule == "hook:rehearsal-over-policy"]
    assert measured and measured[0].refused and "0 s allowed" in measured[0].message
    assert not _index_on_target(pair) and pair.target.version() == ["r1"]


def test_a_revision_the_lint_passes_is_refused_when_its_measurement_is_beyond_policy(
    pair: Pair,
) -> None:
    pair.policy(rehearsal_max_lock_seconds=0.1)
    add(
        pair,
        "r2",
        "r1",
        "op.execute('LOCK TABLE orders')\nop.execute('SELECT pg_sleep(0.3)')\n"
        "op.add_column('orders', sa.Column('extra', sa.Text()))",
    )
    assert not pair.rehearse().ok
    result = pair.upgrade()
    assert not result.ok, result.message
    assert "LOCK TABLE orders: blocks reads and writes on public.orders for" in result.message
    assert pair.target.version() == ["r1"]
    assert pair.target.query(
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'extra'"
    ) == [[0]]


def test_an_edited_revision_is_not_matched(pair: Pair) -> None:
    pair.policy(rehearsal_max_lock_seconds=600)
    add(pair, "r2", "r1", INDEX)
    assert pair.rehearse().ok
    add(pair, "r2", "r1", INDEX + "  # edited after the rehearsal")
    result = pair.upgrade()
    assert not result.ok and result.error is not None and result.error.kind == "unsafe_migration"
    assert not _index_on_target(pair)


def test_a_rehearsal_from_another_target_revision_is_not_matched(pair: Pair) -> None:
    pair.policy(rehearsal_max_lock_seconds=600)
    add(pair, "r2", "r1", "op.add_column('orders', sa.Column('extra', sa.Text()))")
    add(pair, "r3", "r2", INDEX)
    assert pair.rehearse().ok  # r1 -> r3, recorded from r1
    assert run(pair.env(), revision="r2").ok
    result = pair.upgrade()  # r2 -> r3: the record is from r1
    assert not result.ok and result.error is not None and result.error.kind == "unsafe_migration"
    assert pair.target.version() == ["r2"] and not _index_on_target(pair)


def test_a_stale_rehearsal_is_ignored(pair: Pair) -> None:
    pair.policy(rehearsal_max_lock_seconds=600)
    add(pair, "r2", "r1", INDEX)
    assert pair.rehearse().ok
    pair.policy(rehearsal_max_lock_seconds=600, rehearsal_max_age_hours=0)
    result = pair.upgrade()
    assert not result.ok and not _index_on_target(pair)


def test_required_without_a_rehearsal_refuses_before_any_ddl(pair: Pair) -> None:
    pair.policy(rehearsal="required")
    add(pair, "r2", "r1", "op.add_column('orders', sa.Column('extra', sa.Text()))")
    result = pair.upgrade()
    assert not result.ok and result.error is not None and result.error.kind == "unsafe_migration"
    assert [f.rule for f in result.findings or [] if f.refused] == ["hook:rehearsal-required"]
    assert pair.target.version() == ["r1"]
    assert pair.target.query(
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'extra'"
    ) == [[0]]
    assert pair.rehearse().ok
    assert pair.upgrade().ok and pair.target.version() == ["r2"]


# --- refusals before any DDL --------------------------------------------------------------------------


def test_a_copy_that_is_the_target_is_refused(pair: Pair) -> None:
    add(pair, "r2", "r1", "op.add_column('orders', sa.Column('extra', sa.Text()))")
    before = schema(pair.target)
    result = pair.rehearse(copy=pair.target)
    assert not result.ok and "is the target database itself" in result.message
    assert schema(pair.target) == before


def test_a_copy_at_another_revision_is_refused(pair: Pair, pg: LocalPostgres) -> None:
    add(pair, "r2", "r1", "op.add_column('orders', sa.Column('extra', sa.Text()))")
    empty = _clone(pg, "template1")
    result = pair.rehearse(copy=empty)
    assert not result.ok and "is at base, the target at r1" in result.message
    assert empty.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [[0]]


# --- the CLI ------------------------------------------------------------------------------------------


def test_the_cli_prints_a_markdown_table_and_exits_by_the_verdict(pair: Pair) -> None:
    add(pair, "r2", "r1", INDEX)
    argv = [
        sys.executable,
        "-m",
        "lambda_fn.cli.main",
        "--config",
        str(pair.ini),
        "--database-url",
        pair.target.url,
        "rehearse",
        "--on",
        pair.copy.url,
        "--copy-kind",
        "template",
        "--format",
        "markdown",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DB_"))}
    done = subprocess.run(
        argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| revision | time | locks that block |" in done.stdout
    assert "SHARE public.orders" in done.stdout and pair.target.url not in done.stdout
    # a second rehearsal on the same copy: it is at r2 now, the target at r1
    again = subprocess.run(
        [*argv[:-2], "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=False,
    )
    assert (
        again.returncode == 1
        and "is at r2, the target at r1" in json.loads(again.stdout)["message"]
    )

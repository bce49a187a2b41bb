"""The safety gate against a real PostgreSQL: the live judgement (table sizes from the catalogue, tables
created in the same range), refusal before the migration lock and before any DDL, acknowledgments, the
confirmed escape, the policy in alembic.ini, and the CLI process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_fn.findings import Finding
from lambda_fn.postgres.lock import lock_key
from lambda_fn.result import Result
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev, write_project, write_revision

BIG, SMALL = 20_000, 10
TABLES = (
    "op.execute('CREATE TABLE big (id bigint PRIMARY KEY, email text, legacy text, name varchar(500), n int)')\n"
    "op.execute('CREATE TABLE small (id bigint PRIMARY KEY, email text)')"
)
INDEX_ON = "op.create_index('ix_{0}_email', '{0}', ['email'])"


@pytest.fixture
def project(tmp_path: Path, db: Database) -> tuple[Path, dict[str, str]]:
    """Two tables at r1 in the database: `big` (20,000 rows) and `small` (10), both analyzed."""
    ini = write_project(tmp_path, [Rev("r1", None, TABLES)])
    env = db.env(ALEMBIC_CONFIG=str(ini), MIGRATION_LOCK_WAIT_SECONDS="1")
    assert run(env).ok
    db.query(
        f"INSERT INTO big SELECT g, 'u' || g FROM generate_series(1, {BIG}) g; "
        f"INSERT INTO small SELECT g, 'u' || g FROM generate_series(1, {SMALL}) g; ANALYZE big; ANALYZE small"
    )
    return tmp_path, env


def _index_exists(db: Database, name: str) -> bool:
    return bool(db.query("SELECT to_regclass(:n) IS NOT NULL", n=name)[0][0])


def _only(result: Result, rule: str) -> list[Finding]:
    return [f for f in result.findings or [] if f.rule == rule]


def test_index_on_a_big_table_is_refused_before_the_lock_and_before_any_ddl(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(root, Rev("r2", "r1", INDEX_ON.format("big")))
    # another runner holds the migration lock: a gate after the lock would wait for it and fail
    # migration_locked; the gate before it refuses at once
    holder = db.admin()
    try:
        assert holder.run("SELECT pg_try_advisory_lock(:k)", k=lock_key("alembic_version"))[0][0]
        result = run(env)
    finally:
        holder.close()
    assert not result.ok and result.error is not None
    assert result.error.kind == "unsafe_migration", result.message
    assert result.error.revision == "r2"
    assert result.lock_wait_ms == 0
    [finding] = _only(result, "require-concurrent-index-creation")
    assert finding.refused and finding.category == "blocking" and finding.table == "big"
    assert finding.judged is None
    assert "CONCURRENTLY" in finding.fix
    assert "r2 require-concurrent-index-creation [blocking] on big" in result.message
    assert db.version() == ["r1"] and not _index_exists(db, "ix_big_email")
    assert result.to_dict()["findings"][0]["class"] == "blocking"


def test_the_same_index_on_a_small_table_passes_as_advisory(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(root, Rev("r2", "r1", INDEX_ON.format("small")))
    result = run(env)
    assert result.ok, result.message
    [finding] = _only(result, "require-concurrent-index-creation")
    assert not finding.refused and finding.category == "advisory"
    assert finding.rule_class == "blocking"
    assert f"holds about {SMALL} rows" in (finding.judged or "")
    assert db.version() == ["r2"] and _index_exists(db, "ix_small_email")


def test_the_same_index_on_a_table_created_in_the_same_range_passes_as_advisory(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(
        root, Rev("r2", "r1", "op.execute('CREATE TABLE fresh (id bigint, email text)')")
    )
    write_revision(root, Rev("r3", "r2", INDEX_ON.format("fresh")))
    result = run(env)
    assert result.ok, result.message
    [finding] = _only(result, "require-concurrent-index-creation")
    assert finding.revision == "r3" and finding.category == "advisory"
    assert "fresh is created in this deploy (r2)" in (finding.judged or "")
    assert db.version() == ["r3"]


def test_incompatible_is_never_lowered_by_size_and_an_acknowledgment_passes_with_its_reason(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(root, Rev("r2", "r1", "op.drop_column('small', 'email')"))
    refused = run(env)
    assert refused.error is not None and refused.error.kind == "unsafe_migration"
    [finding] = _only(refused, "ban-drop-column")
    assert finding.category == "incompatible" and finding.refused
    assert db.version() == ["r1"]

    path = root / "migrations" / "versions" / "r2.py"
    path.write_text(
        'alembic_hook_acknowledge = {"ban-drop-column": "unread since release 41, PR 123"}\n'
        + path.read_text()
    )
    passed = run(env)
    assert passed.ok, passed.message
    [finding] = _only(passed, "ban-drop-column")
    assert finding.acknowledged == "unread since release 41, PR 123" and not finding.refused
    assert passed.to_dict()["findings"][0]["acknowledged"] == "unread since release 41, PR 123"
    assert db.version() == ["r2"]


def test_policy_in_alembic_ini_moves_the_threshold(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(root, Rev("r2", "r1", INDEX_ON.format("big")))
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text() + "\n[alembic_hook]\nsmall_table_rows = 100000\n")
    result = run(env)
    assert result.ok, result.message
    [finding] = _only(result, "require-concurrent-index-creation")
    assert "below small_table_rows = 100000" in (finding.judged or "")
    ini.write_text(ini.read_text() + "refuse = nonsense\n")
    write_revision(root, Rev("r3", "r2", "op.execute('SELECT 1')"))
    bad = run(env)
    assert (
        bad.error is not None
        and bad.error.kind == "configuration"
        and "[alembic_hook]" in bad.message
    )


def test_status_shows_the_findings_and_sql_too(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(root, Rev("r2", "r1", INDEX_ON.format("big")))
    status = run(env, "status")
    assert status.ok and "safety gate: 1 refused" in status.message
    assert [f.rule for f in status.findings or []] == ["require-concurrent-index-creation"]
    sql = run(env, "sql")
    assert sql.ok and sql.findings and sql.findings[0].refused
    lint = run(env, "lint")
    assert lint.error is not None and lint.error.kind == "unsafe_migration"
    assert db.version() == ["r1"]


def test_skipping_the_gate_needs_confirmation_and_is_recorded(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    from lambda_fn.deadline import Deadline
    from lambda_fn.engine.execute import execute
    from lambda_fn.request import Command, Request
    from lambda_fn.settings import Settings

    root, env = project
    write_revision(root, Rev("r2", "r1", INDEX_ON.format("big")))
    unconfirmed = execute(
        Request(Command.UPGRADE, skip_lint="DB owner approved, ticket 7"), Settings.from_env(env)
    )
    assert unconfirmed.error is not None and unconfirmed.error.kind == "confirmation_required"
    assert db.version() == ["r1"]
    done = execute(
        Request(Command.UPGRADE, skip_lint="DB owner approved, ticket 7", skip_lint_confirmed=True),
        Settings.from_env(env),
        deadline=Deadline(),
    )
    assert done.ok, done.message
    assert done.lint_skipped == "DB owner approved, ticket 7" and done.findings is None
    assert done.to_dict()["lint_skipped"] == "DB owner approved, ticket 7"
    assert db.version() == ["r2"]


def test_a_missing_linter_is_not_acknowledged_away_and_says_what_to_install(
    project: tuple[Path, dict[str, str]], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The way out of a missing squawk is installing it, never an acknowledgment in the revision."""
    root, env = project
    write_revision(root, Rev("r2", "r1", "op.add_column('small', sa.Column('note', sa.Text))"))
    path = root / "migrations" / "versions" / "r2.py"
    path.write_text(
        path.read_text() + '\nalembic_hook_acknowledge = {"hook:lint-unavailable": "trust me"}\n'
    )
    monkeypatch.setenv("ALEMBIC_HOOK_SQUAWK", str(root / "no-squawk-here"))
    result = run(env)
    assert result.error is not None and result.error.kind == "unsafe_migration"
    (finding,) = [f for f in result.findings or [] if f.rule == "hook:lint-unavailable"]
    assert finding.refused and finding.acknowledged is None
    assert "pip install squawk-cli==2.70.0" in finding.fix
    assert db.version() == ["r1"]


def test_without_squawk_and_without_a_manifest_a_pending_revision_is_refused(
    project: tuple[Path, dict[str, str]], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, env = project
    write_revision(root, Rev("r2", "r1", "op.add_column('small', sa.Column('note', sa.Text))"))
    monkeypatch.setenv("ALEMBIC_HOOK_SQUAWK", str(root / "no-squawk-here"))
    result = run(env)
    assert result.error is not None and result.error.kind == "unsafe_migration"
    assert [f.rule for f in result.findings or []] == ["hook:lint-unavailable"]
    assert db.version() == ["r1"]
    # the build's manifest (what the asset ships) answers without a binary
    monkeypatch.delenv("ALEMBIC_HOOK_SQUAWK")
    done = subprocess.run(
        [sys.executable, "-m", "lambda_fn.cli.build_lint", str(root / "alembic.ini"), "--write"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["revisions"] == 2
    monkeypatch.setenv("ALEMBIC_HOOK_SQUAWK", str(root / "no-squawk-here"))
    passed = run(env)
    assert passed.ok, passed.message
    assert db.version() == ["r2"]


def test_cli_process_refuses_lists_the_findings_and_exits_1(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(root, Rev("r2", "r1", INDEX_ON.format("big")))
    cli = str(Path(sys.executable).parent / "alembic-hook")
    process_env = {**os.environ, **env}
    done = subprocess.run(
        [cli, "upgrade"], env=process_env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "upgrade: failed" in done.stdout and "[unsafe_migration]" in done.stdout
    assert "REFUSED  r2 require-concurrent-index-creation [blocking] on big" in done.stdout
    assert "fix: build the index CONCURRENTLY" in done.stdout
    assert db.version() == ["r1"] and not _index_exists(db, "ix_big_email")

    as_json = subprocess.run(
        [cli, "upgrade", "--json"], env=process_env, capture_output=True, text=True, check=False
    )
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["findings"][0]["rule"] == "require-concurrent-index-creation"

    # offline lint (no database): the same finding, as GitHub annotations, exit 1
    offline = {k: v for k, v in process_env.items() if k != "DATABASE_URL"}
    lint = subprocess.run(
        [cli, "lint", "r1:", "--format", "github"],
        env=offline,
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert lint.stdout.startswith(
        "::error file=migrations/versions/r2.py,title=require-concurrent-index-creation "
        "[blocking] on big::CREATE INDEX ix_big_email ON big (email)"
    )
    skipped = subprocess.run(
        [cli, "upgrade", "--no-lint", "approved by the DB owner"],
        env=process_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert skipped.returncode == 1 and "confirmation_required" in skipped.stdout + skipped.stderr
    assert db.version() == ["r1"]


def test_an_already_at_head_run_does_not_load_the_gate(
    project: tuple[Path, dict[str, str]],
) -> None:
    """No pending revision: no lint, no import of the gate, on the fast path and on the full path."""
    _root, env = project
    code = """
import json, sys
from lambda_fn.engine.execute import execute
from lambda_fn.request import Request
from lambda_fn.settings import Settings
out = []
for fast in (True, False):
    result = execute(Request(), Settings.from_env(), fast=fast)
    out.append([result.status.value, result.findings is None,
                sorted(m for m in sys.modules if m.startswith("lambda_fn.engine.gate"))])
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        ["up_to_date", True, []],
        ["up_to_date", True, []],
    ]


# --- the live judgement from the catalogue (issue 17): each case's expectation is PostgreSQL's, proven on the
# real table where it matters (relfilenode = the table's file: it changes exactly when the table is rewritten)


def _relfilenode(db: Database, table: str) -> int:
    return int(
        str(db.query("SELECT relfilenode FROM pg_class WHERE oid = to_regclass(:t)", t=table)[0][0])
    )


def test_binary_coercible_type_changes_pass_and_take_no_rewrite(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    # varchar(500) -> varchar(8000) and varchar -> text: pg_cast says binary-coercible (or a length widening):
    # PostgreSQL changes the catalogue only, old code reads and writes the same values
    root, env = project
    before = _relfilenode(db, "big")
    write_revision(root, Rev("r2", "r1", "op.alter_column('big', 'name', type_=sa.String(8000))"))
    write_revision(root, Rev("r3", "r2", "op.alter_column('big', 'name', type_=sa.Text)"))
    result = run(env)
    assert result.ok, result.message
    found = _only(result, "changing-column-type")
    assert [f.refused for f in found] == [False, False]
    assert "character varying(500) -> VARCHAR(8000) is binary-coercible: no rewrite" in (
        found[0].judged or ""
    )
    assert found[0].rule_class == "incompatible" and found[0].category == "advisory"
    assert db.version() == ["r3"] and _relfilenode(db, "big") == before
    assert db.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'big'::regclass "
        "AND attname = 'name'"
    ) == [["text"]]


def test_int_to_bigint_refuses_as_blocking_and_rewrites_when_acknowledged_in_alembic_ini(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    # int4 -> int8 has no binary-coercible cast (castmethod 'f'): PostgreSQL rewrites the table and its indexes
    # under ACCESS EXCLUSIVE, reads and writes wait for the whole rewrite
    root, env = project
    write_revision(root, Rev("r2", "r1", "op.alter_column('big', 'n', type_=sa.BigInteger)"))
    refused = run(env)
    assert refused.error is not None and refused.error.kind == "unsafe_migration"
    [finding] = _only(refused, "changing-column-type")
    assert (
        finding.refused and finding.category == "blocking" and finding.rule_class == "incompatible"
    )
    assert "integer -> BIGINT rewrites" in (finding.reason or "")
    before = _relfilenode(db, "big")
    # a third-party revision the team cannot edit: acknowledged in the team's own alembic.ini
    ini = root / "alembic.ini"
    ini.write_text(
        ini.read_text()
        + "\n[alembic_hook]\nacknowledge =\n    r2 changing-column-type: the 02:00 window, "
        "approved by the DB owner\n"
    )
    passed = run(env)
    assert passed.ok, passed.message
    [finding] = _only(passed, "changing-column-type")
    assert (
        finding.acknowledged
        == "the 02:00 window, approved by the DB owner (acknowledged in alembic.ini)"
    )
    assert db.version() == ["r2"] and _relfilenode(db, "big") != before  # it did rewrite


def test_set_not_null_passes_after_a_validated_check_and_refuses_without(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    # PostgreSQL 12+ skips SET NOT NULL's full scan when a validated CHECK (col IS NOT NULL) proves it
    root, env = project
    db.query("UPDATE big SET email = 'e', legacy = 'l' WHERE email IS NULL OR legacy IS NULL")
    write_revision(
        root,
        Rev(
            "r2",
            "r1",
            "op.execute('ALTER TABLE big ADD CONSTRAINT ck_big_email CHECK "
            "(email IS NOT NULL) NOT VALID')",
        ),
    )
    write_revision(
        root, Rev("r3", "r2", "op.execute('ALTER TABLE big VALIDATE CONSTRAINT ck_big_email')")
    )
    assert run(env).ok
    write_revision(root, Rev("r4", "r3", "op.alter_column('big', 'legacy', nullable=False)"))
    refused = run(env)
    assert refused.error is not None and refused.error.kind == "unsafe_migration"
    [finding] = _only(refused, "adding-not-nullable-field")
    assert finding.refused and "holds about 20000 rows" in (finding.reason or "")
    write_revision(root, Rev("r4", "r3", "op.alter_column('big', 'email', nullable=False)"))
    passed = run(env)
    assert passed.ok, passed.message
    [finding] = _only(passed, "adding-not-nullable-field")
    assert "a validated CHECK (email IS NOT NULL) exists" in (finding.judged or "")
    assert db.query(
        "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'big'::regclass AND attname = 'email'"
    ) == [[True]]


def test_lock_table_and_an_unbounded_update_on_a_big_table_refuse(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    # LOCK TABLE: ACCESS EXCLUSIVE until commit, whatever the table's size
    write_revision(root, Rev("r2", "r1", "op.execute('LOCK TABLE small')"))
    locked = run(env)
    assert locked.error is not None and locked.error.kind == "unsafe_migration"
    assert [f.category for f in _only(locked, "hook:lock-table")] == ["blocking"]
    # UPDATE without WHERE: every row of 20,000 locked until commit
    write_revision(root, Rev("r2", "r1", "op.execute(\"UPDATE big SET email = 'x'\")"))
    big = run(env)
    assert big.error is not None and big.error.kind == "unsafe_migration"
    [finding] = _only(big, "hook:unbounded-write")
    assert finding.refused and finding.category == "blocking" and finding.table == "big"
    assert db.version() == ["r1"] and db.query("SELECT count(*) FROM big WHERE email = 'x'") == [
        [0]
    ]
    # the same on a 10-row table is advisory
    write_revision(root, Rev("r2", "r1", "op.execute(\"UPDATE small SET email = 'x'\")"))
    small = run(env)
    assert small.ok, small.message
    assert "holds about 10 rows" in (_only(small, "hook:unbounded-write")[0].judged or "")


def test_a_foreign_key_from_a_new_table_to_a_big_one_passes(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    # validation scans the referencing table (0 rows); big only takes SHARE ROW EXCLUSIVE for that moment
    root, env = project
    write_revision(
        root, Rev("r2", "r1", "op.execute('CREATE TABLE notes (id bigint, big_id bigint)')")
    )
    write_revision(
        root,
        Rev(
            "r3", "r2", "op.create_foreign_key('fk_notes_big', 'notes', 'big', ['big_id'], ['id'])"
        ),
    )
    result = run(env)
    assert result.ok, result.message
    [finding] = _only(result, "adding-foreign-key-constraint")
    assert "validating the foreign key scans only that table" in (finding.judged or "")
    assert db.query("SELECT count(*) FROM pg_constraint WHERE conname = 'fk_notes_big'") == [[1]]


def test_a_live_table_renamed_in_the_range_is_still_judged_live(
    project: tuple[Path, dict[str, str]], db: Database
) -> None:
    root, env = project
    write_revision(
        root, Rev("r2", "r1", "op.rename_table('big', 'big2')\n" + INDEX_ON.format("big2"))
    )
    result = run(env)
    assert result.error is not None and result.error.kind == "unsafe_migration"
    [index] = _only(result, "require-concurrent-index-creation")
    assert index.refused and "holds about 20000 rows" in (index.reason or "")
    assert db.version() == ["r1"]


def test_an_empty_database_refuses_nothing(tmp_path: Path, db: Database) -> None:
    """A first deploy: no table at all, so nothing can be blocked or broken; findings stay, as advisory."""
    revs = [
        Rev("r1", None, TABLES),
        Rev("r2", "r1", INDEX_ON.format("big") + "\nop.drop_index('ix_big_email')"),
        Rev(
            "r3",
            "r2",
            "n = op.get_bind().execute(sa.text('SELECT count(*) FROM big')).scalar()\n"
            "op.execute('ALTER TABLE big ALTER COLUMN n TYPE bigint')",
        ),
    ]
    ini = write_project(tmp_path, revs)
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.ok, result.message
    assert result.findings and not [f for f in result.findings if f.refused]
    rules = {f.rule for f in result.findings}
    assert "hook:not-reviewable-offline" in rules and "require-concurrent-index-deletion" in rules
    assert all(
        "the database holds no table yet" in (f.judged or "")
        for f in result.findings
        if f.rule_class is not None
    )
    assert db.version() == ["r3"]


def test_the_column_facts_come_back_in_the_order_asked(db: Database) -> None:
    """The judgement pairs each COLUMNS_SQL row with its (table, column, type) by position: a join plan that
    reorders rows once judged mlflow's `runs.status` as another table's double precision column."""
    from sqlalchemy import create_engine, text

    from lambda_fn.engine.gate.judge import COLUMNS_SQL

    db.query("CREATE TABLE params (key varchar(250), value varchar(250))")
    db.query("CREATE TABLE runs (status varchar(20), x float8)")
    asked = [
        ("public.params", "value", "VARCHAR(8000)"),
        ("public.runs", "status", "VARCHAR(9)"),
        ("public.runs", "x", "text"),
        ("public.params", "key", "text"),
    ]
    engine = create_engine(
        db.url.split("?")[0].replace("postgresql://", "postgresql+pg8000_hook://", 1),
        connect_args={"ssl_context": None},
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(COLUMNS_SQL),
                {
                    "tbls": [t for t, _c, _n in asked],
                    "cols": [c for _t, c, _n in asked],
                    "types": [n for _t, _c, n in asked],
                },
            ).all()
    finally:
        engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == asked
    assert [r[4] for r in rows] == [
        "character varying(250)",
        "character varying(20)",
        "double precision",
        "character varying(250)",
    ]

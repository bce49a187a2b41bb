"""The safety gate's corpus: one unsafe revision per rule that matters on PostgreSQL 14-17, each flagged with
the right class, and its safe rewrite, which passes. Offline (the real squawk binary and Alembic's offline
rendering through the example env.py; no database): the tables live in a base revision outside the linted
range, so no finding is lowered for a table created in the range."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambda_fn.engine.gate.enforce import lint_offline
from lambda_fn.findings import Finding, FindingClass
from lambda_fn.settings import Settings
from tests.support.projects import Rev, write_project

INCOMPATIBLE, BLOCKING, DATA, ADVISORY = (
    FindingClass.INCOMPATIBLE,
    FindingClass.BLOCKING,
    FindingClass.DATA,
    FindingClass.ADVISORY,
)

BASE = """
op.create_table('orgs', sa.Column('id', sa.BigInteger, primary_key=True))
op.create_table('users', sa.Column('id', sa.BigInteger, nullable=False),
                sa.Column('org_id', sa.BigInteger), sa.Column('email', sa.Text), sa.Column('legacy', sa.Text),
                sa.Column('n', sa.Integer, server_default='0'), sa.Column('x', sa.Text, server_default='x'))
op.create_index('ix_users_legacy', 'users', ['legacy'])
op.create_check_constraint('ck_users_n', 'users', 'n >= 0')
op.create_table('olds', sa.Column('id', sa.BigInteger, primary_key=True))
op.execute('CREATE TABLE m (at date) PARTITION BY RANGE (at)')
op.execute("CREATE TABLE m2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
"""
AUTOCOMMIT = "with op.get_context().autocommit_block():\n    "


@dataclass(frozen=True)
class Case:
    name: str
    unsafe: str
    rule: str
    category: FindingClass
    safe: tuple[str, ...]  # the safe rewrite, one or more revisions


ACK = "alembic_hook_acknowledge = {{'{rule}': 'the running code stopped using it in the previous deploy'}}\n"

CASES = [
    # --- incompatible: the safe form is expand now / contract later, the contract step acknowledged -------
    Case(
        "drop_column",
        "op.drop_column('users', 'legacy')",
        "ban-drop-column",
        INCOMPATIBLE,
        ("HOOK_ACK(ban-drop-column)op.drop_column('users', 'legacy')",),
    ),
    Case(
        "drop_table",
        "op.drop_table('olds')",
        "ban-drop-table",
        INCOMPATIBLE,
        ("HOOK_ACK(ban-drop-table)op.drop_table('olds')",),
    ),
    Case(
        "rename_column",
        "op.alter_column('users', 'email', new_column_name='mail')",
        "renaming-column",
        INCOMPATIBLE,
        ("op.add_column('users', sa.Column('mail', sa.Text))",),
    ),
    Case(
        "rename_table",
        "op.rename_table('users', 'people')",
        "renaming-table",
        INCOMPATIBLE,
        ("op.execute('CREATE VIEW people AS SELECT * FROM users')",),
    ),
    Case(
        "required_field",
        "op.add_column('users', sa.Column('plan', sa.Text, nullable=False))",
        "adding-required-field",
        INCOMPATIBLE,
        (
            "op.add_column('users', sa.Column('plan', sa.Text, nullable=False, server_default='free'))",
        ),
    ),
    Case(
        "column_type",
        "op.alter_column('users', 'n', type_=sa.BigInteger)",
        "changing-column-type",
        INCOMPATIBLE,
        ("op.add_column('users', sa.Column('n_big', sa.BigInteger))",),
    ),
    Case(
        "drop_not_null",
        "op.alter_column('users', 'id', nullable=True)",
        "ban-drop-not-null",
        INCOMPATIBLE,
        ("HOOK_ACK(ban-drop-not-null)op.alter_column('users', 'id', nullable=True)",),
    ),
    Case(
        "drop_default",
        "op.alter_column('users', 'x', server_default=None)",
        "ban-drop-default",
        INCOMPATIBLE,
        ("HOOK_ACK(ban-drop-default)op.alter_column('users', 'x', server_default=None)",),
    ),
    Case(
        "truncate_cascade",
        "op.execute('TRUNCATE users CASCADE')",
        "ban-truncate-cascade",
        INCOMPATIBLE,
        ("op.execute('TRUNCATE olds')",),
    ),
    # --- blocking: the safe form is written differently ------------------------------------------------
    Case(
        "index",
        "op.create_index('ix_users_email', 'users', ['email'])",
        "require-concurrent-index-creation",
        BLOCKING,
        (
            AUTOCOMMIT + "op.create_index('ix_users_email', 'users', ['email'], "
            "postgresql_concurrently=True, if_not_exists=True)",
        ),
    ),
    # plain DROP INDEX: constant time (no scan), a brief ACCESS EXCLUSIVE on the table whose wait the hook's
    # lock_timeout bounds: advisory, with that reason (docs/safety-gate.md)
    Case(
        "drop_index",
        "op.drop_index('ix_users_legacy', table_name='users')",
        "require-concurrent-index-deletion",
        ADVISORY,
        (
            AUTOCOMMIT + "op.drop_index('ix_users_legacy', table_name='users', "
            "postgresql_concurrently=True, if_exists=True)",
        ),
    ),
    Case(
        "foreign_key",
        "op.create_foreign_key('fk_users_org', 'users', 'orgs', ['org_id'], ['id'])",
        "adding-foreign-key-constraint",
        BLOCKING,
        (
            "op.execute('ALTER TABLE users ADD CONSTRAINT fk_users_org FOREIGN KEY (org_id) REFERENCES orgs (id) "
            "NOT VALID')",
            "op.execute('ALTER TABLE users VALIDATE CONSTRAINT fk_users_org')",
        ),
    ),
    Case(
        "check",
        "op.create_check_constraint('ck_n', 'users', 'n >= 0')",
        "constraint-missing-not-valid",
        BLOCKING,
        (
            "op.execute('ALTER TABLE users ADD CONSTRAINT ck_n CHECK (n >= 0) NOT VALID')",
            "op.execute('ALTER TABLE users VALIDATE CONSTRAINT ck_n')",
        ),
    ),
    Case(
        "set_not_null",
        "op.alter_column('users', 'email', nullable=False)",
        "adding-not-nullable-field",
        BLOCKING,
        (
            "op.execute('ALTER TABLE users ADD CONSTRAINT ck_email CHECK (email IS NOT NULL) NOT VALID')",
            "op.execute('ALTER TABLE users VALIDATE CONSTRAINT ck_email')\n"
            "op.alter_column('users', 'email', nullable=False)",
        ),
    ),
    Case(
        "volatile_default",
        "op.add_column('users', sa.Column('token', sa.Text, server_default=sa.text('gen_random_uuid()::text')))",
        "adding-field-with-default",
        BLOCKING,
        ("op.add_column('users', sa.Column('token', sa.Text))",),
    ),
    Case(
        "unique",
        "op.create_unique_constraint('uq_users_email', 'users', ['email'])",
        "disallowed-unique-constraint",
        BLOCKING,
        (
            AUTOCOMMIT + "op.create_index('uq_users_email', 'users', ['email'], unique=True, "
            "postgresql_concurrently=True, if_not_exists=True)",
            "op.execute('ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX uq_users_email')",
        ),
    ),
    Case(
        "primary_key",
        "op.create_primary_key('pk_users', 'users', ['id'])",
        "adding-serial-primary-key-field",
        BLOCKING,
        (
            AUTOCOMMIT + "op.create_index('pk_users', 'users', ['id'], unique=True, "
            "postgresql_concurrently=True, if_not_exists=True)",
            "op.execute('ALTER TABLE users ADD CONSTRAINT pk_users PRIMARY KEY USING INDEX pk_users')",
        ),
    ),
    Case(
        "reindex",
        "op.execute('REINDEX TABLE users')",
        "require-concurrent-reindex",
        BLOCKING,
        (AUTOCOMMIT + "op.execute('REINDEX TABLE CONCURRENTLY users')",),
    ),
    Case(
        "detach",
        "op.execute('ALTER TABLE m DETACH PARTITION m2024')",
        "require-concurrent-partition-detach",
        BLOCKING,
        (AUTOCOMMIT + "op.execute('ALTER TABLE m DETACH PARTITION m2024 CONCURRENTLY')",),
    ),
    Case(
        "concurrently_in_tx",
        "op.create_index('ix_users_email', 'users', ['email'], postgresql_concurrently=True)",
        "ban-concurrent-index-creation-in-transaction",
        BLOCKING,
        (
            AUTOCOMMIT
            + "op.create_index('ix_users_email', 'users', ['email'], postgresql_concurrently=True, "
            "if_not_exists=True)",
        ),
    ),
    # --- the hook's own checks, where squawk 2.70 sees nothing ------------------------------------------
    Case(
        "vacuum_full",
        AUTOCOMMIT + "op.execute('VACUUM FULL users')",
        "hook:table-rewrite",
        BLOCKING,
        (AUTOCOMMIT + "op.execute('VACUUM users')",),
    ),
    Case(
        "cluster",
        "op.execute('CLUSTER users USING ix_users_legacy')",
        "hook:table-rewrite",
        BLOCKING,
        ("op.execute('ANALYZE users')",),
    ),
    Case(
        "serial_column",
        "op.execute('ALTER TABLE users ADD COLUMN seq BIGSERIAL')",
        "hook:table-rewrite",
        BLOCKING,
        ("op.add_column('users', sa.Column('seq', sa.BigInteger))",),
    ),
    Case(
        "drop_concurrently_in_tx",
        "op.drop_index('ix_users_legacy', table_name='users', postgresql_concurrently=True, if_exists=True)",
        "hook:concurrently-in-transaction",
        BLOCKING,
        (
            AUTOCOMMIT
            + "op.drop_index('ix_users_legacy', table_name='users', postgresql_concurrently=True, "
            "if_exists=True)",
        ),
    ),
    Case(
        "autocommit_plain_index",
        AUTOCOMMIT + "op.create_index('ix_users_email', 'users', ['email'])",
        "hook:autocommit-without-concurrently",
        BLOCKING,
        (
            AUTOCOMMIT
            + "op.create_index('ix_users_email', 'users', ['email'], postgresql_concurrently=True, "
            "if_not_exists=True)",
        ),
    ),
    Case(
        "reads_database",
        "from alembic import context\n"
        "n = op.get_bind().execute(sa.text('SELECT count(*) FROM users')).scalar()\n"
        "op.execute(f'COMMENT ON TABLE users IS {n!r}')",
        "hook:not-reviewable-offline",
        BLOCKING,
        (
            "from alembic import context\nif not context.is_offline_mode():\n"
            "    n = op.get_bind().execute(sa.text('SELECT count(*) FROM users')).scalar()\n"
            "op.execute(\"COMMENT ON TABLE users IS 'counted'\")",
        ),
    ),
    Case("backfill", "op.execute(\"UPDATE users SET x = 'y'\")", "hook:data-migration", DATA, ()),
    # --- what the linters miss (issue 17) ------------------------------------------------------------------
    # LOCK TABLE: ACCESS EXCLUSIVE by default, held until the revision commits; no linter flags it
    Case(
        "lock_table",
        "op.execute('LOCK TABLE users')\nop.execute(\"UPDATE users SET x = 'y' WHERE id = 1\")",
        "hook:lock-table",
        BLOCKING,
        ("op.execute(\"UPDATE users SET x = 'y' WHERE id = 1\")",),
    ),
    # UPDATE without WHERE: scans the table and row-locks every row until commit (offline: kept, sizes unknown)
    Case(
        "unbounded_update",
        "op.execute(\"UPDATE users SET x = 'y'\")",
        "hook:unbounded-write",
        BLOCKING,
        ("op.execute(\"UPDATE users SET x = 'y' WHERE id BETWEEN 1 AND 1000\")",),
    ),
    Case(
        "unbounded_delete",
        "op.execute('DELETE FROM olds')",
        "hook:unbounded-write",
        BLOCKING,
        ("op.execute('DELETE FROM olds WHERE id < 1000')",),
    ),
    # SET UNLOGGED rewrites the table under ACCESS EXCLUSIVE (sql-altertable: "rewrites the table")
    Case(
        "set_unlogged",
        "op.execute('ALTER TABLE olds SET UNLOGGED')",
        "hook:table-rewrite",
        BLOCKING,
        ("op.execute('ANALYZE olds')",),
    ),
]

# Findings that the range itself makes harmless (offline: no database needed). Each touches only objects the
# same pending range creates (or renames after creating), which no running code can use yet.
LOWERED = [
    # DROP INDEX / FK / function / type on objects created earlier in the range: nothing live is touched
    (
        "created_index_dropped",
        "op.create_index('ix_users_email2', 'users', ['email'])\n"
        "op.drop_index('ix_users_email2', table_name='users')",
        "require-concurrent-index-deletion",
        "DROP INDEX without CONCURRENTLY is constant time",
    ),
    (
        "fk_from_new_table",
        "op.create_table('notes', sa.Column('id', sa.BigInteger, primary_key=True), "
        "sa.Column('user_id', sa.BigInteger))\n---\n"
        "op.create_foreign_key('fk_notes_user', 'notes', 'orgs', ['user_id'], ['id'])",
        "adding-foreign-key-constraint",
        "validating the foreign key scans only that table",
    ),
    (
        "created_function_dropped",
        "op.execute('CREATE FUNCTION f_tmp() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$')\n"
        "op.execute('DROP FUNCTION f_tmp()')",
        "ban-drop-function",
        "f_tmp is created in this deploy",
    ),
    (
        "created_type_dropped",
        "op.execute(\"CREATE TYPE mood AS ENUM ('a', 'b')\")\nop.execute('DROP TYPE mood')",
        "ban-drop-type",
        "mood is created in this deploy",
    ),
    (
        "created_sequence_dropped",
        "op.execute('CREATE SEQUENCE seq_tmp')\nop.execute('DROP SEQUENCE seq_tmp')",
        "ban-drop-sequence",
        "seq_tmp is created in this deploy",
    ),
    # a table created then renamed in the range (dataset -> asset_dataset): the index on the new name is new
    (
        "renamed_new_table",
        "op.create_table('dataset', sa.Column('id', sa.BigInteger, primary_key=True), "
        "sa.Column('uri', sa.Text))\nop.rename_table('dataset', 'asset_dataset')\n"
        "op.create_index('ix_asset_dataset_uri', 'asset_dataset', ['uri'])",
        "require-concurrent-index-creation",
        "asset_dataset is created in this deploy",
    ),
    # a constraint dropped and re-added in one revision (one transaction): old code never sees it missing
    (
        "constraint_readded",
        "op.drop_constraint('ck_users_n', 'users')\n"
        "op.execute('ALTER TABLE users ADD CONSTRAINT ck_users_n CHECK (n >= 0) NOT VALID')",
        "ban-drop-constraint",
        "dropped and re-added in this revision",
    ),
    (
        "created_constraint_dropped",
        "op.execute('ALTER TABLE users ADD CONSTRAINT ck_tmp CHECK (n < 100) NOT VALID')\n"
        "op.drop_constraint('ck_tmp', 'users')",
        "ban-drop-constraint",
        "ck_tmp is created in this deploy",
    ),
]


def _code(body: str) -> tuple[str, str]:
    """(module-level prefix, upgrade body): HOOK_ACK(rule) becomes the revision's acknowledgment."""
    if body.startswith("HOOK_ACK("):
        rule, body = body[len("HOOK_ACK(") :].split(")", 1)
        return ACK.format(rule=rule), body
    return "", body


@pytest.fixture(scope="module")
def linted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Finding]]:
    """Every case's unsafe revision and safe rewrite, in one chain after the base revision, linted once."""
    root: Path = tmp_path_factory.mktemp("corpus")
    revs = [Rev("b0", None, BASE)]
    for (
        name,
        body,
        _rule,
        _why,
    ) in LOWERED:  # "---" splits a case into revisions; the last one is checked
        *earlier, last = body.split("\n---\n")
        for i, part in enumerate(earlier):
            revs.append(Rev(f"{name}_{i}", revs[-1].id, part))
        revs.append(Rev(name, revs[-1].id, last))
    for case in CASES:
        for rid, body in [(f"{case.name}_unsafe", case.unsafe)] + [
            (f"{case.name}_safe{i}", b) for i, b in enumerate(case.safe)
        ]:
            revs.append(Rev(rid, revs[-1].id, _code(body)[1]))
    ini = write_project(root, revs)
    for rev in revs:  # acknowledgments live at module level
        prefix = _code(
            next(
                (b for c in CASES for i, b in enumerate(c.safe) if rev.id == f"{c.name}_safe{i}"),
                "",
            )
        )[0]
        if prefix:
            path = root / "migrations" / "versions" / f"{rev.id}.py"
            path.write_text(prefix + path.read_text())
    result = lint_offline(Settings.from_env({"ALEMBIC_CONFIG": str(ini)}), "b0:heads")
    by_revision: dict[str, list[Finding]] = defaultdict(list)
    for finding in result.findings or []:
        by_revision[finding.revision].append(finding)
    return by_revision


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_unsafe_revision_is_flagged_with_its_class(
    case: Case, linted: dict[str, list[Finding]]
) -> None:
    findings = linted[f"{case.name}_unsafe"]
    matching = [f for f in findings if f.rule == case.rule]
    assert matching, [f.rule for f in findings]
    finding = matching[0]
    assert finding.category is case.category
    assert finding.refused is (case.category in (INCOMPATIBLE, BLOCKING))
    assert finding.fix and finding.revision == f"{case.name}_unsafe"
    if case.rule != "hook:not-reviewable-offline":
        assert finding.statement and finding.line is not None and finding.line >= 1
    if case.category is not DATA and case.rule not in ("hook:not-reviewable-offline",):
        assert finding.table is not None


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.safe], ids=[c.name for c in CASES if c.safe]
)
def test_safe_rewrite_passes(case: Case, linted: dict[str, list[Finding]]) -> None:
    for i in range(len(case.safe)):
        findings = linted[f"{case.name}_safe{i}"]
        assert not [f.one_line() for f in findings if f.refused], f"{case.name}_safe{i}"
        acknowledged = [f for f in findings if f.acknowledged is not None]
        if case.safe[i].startswith("HOOK_ACK("):
            assert [f.rule for f in acknowledged] == [case.rule]
            assert (
                acknowledged[0].acknowledged
                == "the running code stopped using it in the previous deploy"
            )
            # acknowledged, not lowered: reported as it is
            assert acknowledged[0].category is case.category


@pytest.mark.parametrize(
    ("name", "rule", "why"), [(n, r, w) for n, _b, r, w in LOWERED], ids=[c[0] for c in LOWERED]
)
def test_objects_the_range_creates_lower_their_findings(
    name: str, rule: str, why: str, linted: dict[str, list[Finding]]
) -> None:
    [finding] = [f for f in linted[name] if f.rule == rule]
    assert finding.category is ADVISORY and finding.rule_class is not None and not finding.refused
    assert why in (finding.judged or ""), finding.judged
    assert finding.reason == finding.judged  # what PostgreSQL will do, written on the finding


def test_a_revision_that_reads_the_database_names_the_call_and_points_to_rehearsal(
    linted: dict[str, list[Finding]],
) -> None:
    [finding] = [
        f for f in linted["reads_database_unsafe"] if f.rule == "hook:not-reviewable-offline"
    ]
    # the revision's line that read the database
    assert "reads_database_unsafe.py:" in finding.message
    assert "op.get_bind().execute(" in finding.message
    assert "alembic-hook rehearse" in finding.message and "alembic-hook rehearse" in finding.fix


def test_kept_findings_say_why(linted: dict[str, list[Finding]]) -> None:
    [finding] = [f for f in linted["index_unsafe"] if f.rule == "require-concurrent-index-creation"]
    assert (
        finding.refused and finding.reason == "kept: offline, the live tables' sizes are not known"
    )

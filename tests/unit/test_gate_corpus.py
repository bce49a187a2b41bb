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

INCOMPATIBLE, BLOCKING, DATA = FindingClass.INCOMPATIBLE, FindingClass.BLOCKING, FindingClass.DATA

BASE = """
op.create_table('orgs', sa.Column('id', sa.BigInteger, primary_key=True))
op.create_table('users', sa.Column('id', sa.BigInteger, nullable=False),
                sa.Column('org_id', sa.BigInteger), sa.Column('email', sa.Text), sa.Column('legacy', sa.Text),
                sa.Column('n', sa.Integer, server_default='0'), sa.Column('x', sa.Text, server_default='x'))
op.create_index('ix_users_legacy', 'users', ['legacy'])
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
    Case("drop_column", "op.drop_column('users', 'legacy')", "ban-drop-column", INCOMPATIBLE,
         ("HOOK_ACK(ban-drop-column)op.drop_column('users', 'legacy')",)),
    Case("drop_table", "op.drop_table('olds')", "ban-drop-table", INCOMPATIBLE,
         ("HOOK_ACK(ban-drop-table)op.drop_table('olds')",)),
    Case("rename_column", "op.alter_column('users', 'email', new_column_name='mail')", "renaming-column",
         INCOMPATIBLE, ("op.add_column('users', sa.Column('mail', sa.Text))",)),
    Case("rename_table", "op.rename_table('users', 'people')", "renaming-table", INCOMPATIBLE,
         ("op.execute('CREATE VIEW people AS SELECT * FROM users')",)),
    Case("required_field", "op.add_column('users', sa.Column('plan', sa.Text, nullable=False))",
         "adding-required-field", INCOMPATIBLE,
         ("op.add_column('users', sa.Column('plan', sa.Text, nullable=False, server_default='free'))",)),
    Case("column_type", "op.alter_column('users', 'n', type_=sa.BigInteger)", "changing-column-type", INCOMPATIBLE,
         ("op.add_column('users', sa.Column('n_big', sa.BigInteger))",)),
    Case("drop_not_null", "op.alter_column('users', 'id', nullable=True)", "ban-drop-not-null", INCOMPATIBLE,
         ("HOOK_ACK(ban-drop-not-null)op.alter_column('users', 'id', nullable=True)",)),
    Case("drop_default", "op.alter_column('users', 'x', server_default=None)", "ban-drop-default", INCOMPATIBLE,
         ("HOOK_ACK(ban-drop-default)op.alter_column('users', 'x', server_default=None)",)),
    Case("truncate_cascade", "op.execute('TRUNCATE users CASCADE')", "ban-truncate-cascade", INCOMPATIBLE,
         ("op.execute('TRUNCATE olds')",)),
    # --- blocking: the safe form is written differently ------------------------------------------------
    Case("index", "op.create_index('ix_users_email', 'users', ['email'])", "require-concurrent-index-creation",
         BLOCKING, (AUTOCOMMIT + "op.create_index('ix_users_email', 'users', ['email'], "
                    "postgresql_concurrently=True, if_not_exists=True)",)),
    Case("drop_index", "op.drop_index('ix_users_legacy', table_name='users')", "require-concurrent-index-deletion",
         BLOCKING, (AUTOCOMMIT + "op.drop_index('ix_users_legacy', table_name='users', "
                    "postgresql_concurrently=True, if_exists=True)",)),
    Case("foreign_key", "op.create_foreign_key('fk_users_org', 'users', 'orgs', ['org_id'], ['id'])",
         "adding-foreign-key-constraint", BLOCKING,
         ("op.execute('ALTER TABLE users ADD CONSTRAINT fk_users_org FOREIGN KEY (org_id) REFERENCES orgs (id) "
          "NOT VALID')", "op.execute('ALTER TABLE users VALIDATE CONSTRAINT fk_users_org')")),
    Case("check", "op.create_check_constraint('ck_n', 'users', 'n >= 0')", "constraint-missing-not-valid", BLOCKING,
         ("op.execute('ALTER TABLE users ADD CONSTRAINT ck_n CHECK (n >= 0) NOT VALID')",
          "op.execute('ALTER TABLE users VALIDATE CONSTRAINT ck_n')")),
    Case("set_not_null", "op.alter_column('users', 'email', nullable=False)", "adding-not-nullable-field", BLOCKING,
         ("op.execute('ALTER TABLE users ADD CONSTRAINT ck_email CHECK (email IS NOT NULL) NOT VALID')",
          "op.execute('ALTER TABLE users VALIDATE CONSTRAINT ck_email')\n"
          "op.alter_column('users', 'email', nullable=False)")),
    Case("volatile_default",
         "op.add_column('users', sa.Column('token', sa.Text, server_default=sa.text('gen_random_uuid()::text')))",
         "adding-field-with-default", BLOCKING, ("op.add_column('users', sa.Column('token', sa.Text))",)),
    Case("unique", "op.create_unique_constraint('uq_users_email', 'users', ['email'])", "disallowed-unique-constraint",
         BLOCKING, (AUTOCOMMIT + "op.create_index('uq_users_email', 'users', ['email'], unique=True, "
                    "postgresql_concurrently=True, if_not_exists=True)",
                    "op.execute('ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX uq_users_email')")),
    Case("primary_key", "op.create_primary_key('pk_users', 'users', ['id'])", "adding-serial-primary-key-field",
         BLOCKING, (AUTOCOMMIT + "op.create_index('pk_users', 'users', ['id'], unique=True, "
                    "postgresql_concurrently=True, if_not_exists=True)",
                    "op.execute('ALTER TABLE users ADD CONSTRAINT pk_users PRIMARY KEY USING INDEX pk_users')")),
    Case("reindex", "op.execute('REINDEX TABLE users')", "require-concurrent-reindex", BLOCKING,
         (AUTOCOMMIT + "op.execute('REINDEX TABLE CONCURRENTLY users')",)),
    Case("detach", "op.execute('ALTER TABLE m DETACH PARTITION m2024')", "require-concurrent-partition-detach",
         BLOCKING, (AUTOCOMMIT + "op.execute('ALTER TABLE m DETACH PARTITION m2024 CONCURRENTLY')",)),
    Case("concurrently_in_tx", "op.create_index('ix_users_email', 'users', ['email'], postgresql_concurrently=True)",
         "ban-concurrent-index-creation-in-transaction", BLOCKING,
         (AUTOCOMMIT + "op.create_index('ix_users_email', 'users', ['email'], postgresql_concurrently=True, "
          "if_not_exists=True)",)),
    # --- the hook's own checks, where squawk 2.70 sees nothing ------------------------------------------
    Case("vacuum_full", AUTOCOMMIT + "op.execute('VACUUM FULL users')", "hook:table-rewrite", BLOCKING,
         (AUTOCOMMIT + "op.execute('VACUUM users')",)),
    Case("cluster", "op.execute('CLUSTER users USING ix_users_legacy')", "hook:table-rewrite", BLOCKING,
         ("op.execute('ANALYZE users')",)),
    Case("serial_column", "op.execute('ALTER TABLE users ADD COLUMN seq BIGSERIAL')", "hook:table-rewrite", BLOCKING,
         ("op.add_column('users', sa.Column('seq', sa.BigInteger))",)),
    Case("drop_concurrently_in_tx",
         "op.drop_index('ix_users_legacy', table_name='users', postgresql_concurrently=True, if_exists=True)",
         "hook:concurrently-in-transaction", BLOCKING,
         (AUTOCOMMIT + "op.drop_index('ix_users_legacy', table_name='users', postgresql_concurrently=True, "
          "if_exists=True)",)),
    Case("autocommit_plain_index", AUTOCOMMIT + "op.create_index('ix_users_email', 'users', ['email'])",
         "hook:autocommit-without-concurrently", BLOCKING,
         (AUTOCOMMIT + "op.create_index('ix_users_email', 'users', ['email'], postgresql_concurrently=True, "
          "if_not_exists=True)",)),
    Case("reads_database", "from alembic import context\n"
         "n = op.get_bind().execute(sa.text('SELECT count(*) FROM users')).scalar()\n"
         "op.execute(f'COMMENT ON TABLE users IS {n!r}')", "hook:not-reviewable-offline", BLOCKING,
         ("from alembic import context\nif not context.is_offline_mode():\n"
          "    n = op.get_bind().execute(sa.text('SELECT count(*) FROM users')).scalar()\n"
          "op.execute(\"COMMENT ON TABLE users IS 'counted'\")",)),
    Case("backfill", "op.execute(\"UPDATE users SET x = 'y'\")", "hook:data-migration", DATA, ()),
]


def _code(body: str) -> tuple[str, str]:
    """(module-level prefix, upgrade body): HOOK_ACK(rule) becomes the revision's acknowledgment."""
    if body.startswith("HOOK_ACK("):
        rule, body = body[len("HOOK_ACK("):].split(")", 1)
        return ACK.format(rule=rule), body
    return "", body


@pytest.fixture(scope="module")
def linted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Finding]]:
    """Every case's unsafe revision and safe rewrite, in one chain after the base revision, linted once."""
    root: Path = tmp_path_factory.mktemp("corpus")
    revs = [Rev("b0", None, BASE)]
    for case in CASES:
        for rid, body in [(f"{case.name}_unsafe", case.unsafe)] + [
                (f"{case.name}_safe{i}", b) for i, b in enumerate(case.safe)]:
            revs.append(Rev(rid, revs[-1].id, _code(body)[1]))
    ini = write_project(root, revs)
    for rev in revs:  # acknowledgments live at module level
        prefix = _code(next((b for c in CASES for i, b in enumerate(c.safe) if rev.id == f"{c.name}_safe{i}"), ""))[0]
        if prefix:
            path = root / "migrations" / "versions" / f"{rev.id}.py"
            path.write_text(prefix + path.read_text())
    result = lint_offline(Settings.from_env({"ALEMBIC_CONFIG": str(ini)}), "b0:heads")
    by_revision: dict[str, list[Finding]] = defaultdict(list)
    for finding in result.findings or []:
        by_revision[finding.revision].append(finding)
    return by_revision


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_unsafe_revision_is_flagged_with_its_class(case: Case, linted: dict[str, list[Finding]]) -> None:
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


@pytest.mark.parametrize("case", [c for c in CASES if c.safe], ids=[c.name for c in CASES if c.safe])
def test_safe_rewrite_passes(case: Case, linted: dict[str, list[Finding]]) -> None:
    for i in range(len(case.safe)):
        findings = linted[f"{case.name}_safe{i}"]
        assert not [f.one_line() for f in findings if f.refused], f"{case.name}_safe{i}"
        acknowledged = [f for f in findings if f.acknowledged is not None]
        if case.safe[i].startswith("HOOK_ACK("):
            assert [f.rule for f in acknowledged] == [case.rule]
            assert acknowledged[0].acknowledged == "the running code stopped using it in the previous deploy"
            assert acknowledged[0].category is case.category  # acknowledged, not lowered: reported as it is

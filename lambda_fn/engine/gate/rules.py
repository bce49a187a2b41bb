"""Each rule's class and one-line fix: squawk's rules (2.70, PostgreSQL 14-17) and the hook's own.

A rule squawk adds later and this table does not know is `blocking` until classified here (conservative:
a deploy is refused and says which rule; `disable = <rule>` in the policy is the escape).
"""

from __future__ import annotations

from dataclasses import dataclass

from lambda_fn.findings import FindingClass

INCOMPATIBLE, BLOCKING, DATA, ADVISORY = (
    FindingClass.INCOMPATIBLE,
    FindingClass.BLOCKING,
    FindingClass.DATA,
    FindingClass.ADVISORY,
)

EXPAND_CONTRACT = (
    "expand now, contract after the deploy: keep the old shape until no running code uses it"
)


@dataclass(frozen=True)
class Rule:
    category: FindingClass
    fix: str
    # False: no table size or creation in this deploy makes it safe (the statement fails, or it cannot be judged)
    judgeable: bool = True
    # False: a small table does not make it safe (the harm is how long the lock is held, not the rows)
    sized: bool = True


# The hook's own checks (lambda_fn/engine/gate/checks.py and judge.py)
NOT_REVIEWABLE = "hook:not-reviewable-offline"
LINT_UNAVAILABLE = "hook:lint-unavailable"
TABLE_REWRITE = "hook:table-rewrite"
CONCURRENTLY_IN_TRANSACTION = "hook:concurrently-in-transaction"
AUTOCOMMIT_WITHOUT_CONCURRENTLY = "hook:autocommit-without-concurrently"
DATA_MIGRATION = "hook:data-migration"
BAD_ACKNOWLEDGMENT = "hook:bad-acknowledgment"
LOCK_TABLE = "hook:lock-table"
UNBOUNDED_WRITE = "hook:unbounded-write"
UNUSED_ACKNOWLEDGMENT = "hook:unused-acknowledgment"

RULES: dict[str, Rule] = {
    # --- breaks the old code still serving traffic -------------------------------------------------------
    "ban-drop-column": Rule(
        INCOMPATIBLE,
        "expand now, contract after the deploy: ship code that no longer reads the column, drop it in a later one",
    ),
    "ban-drop-table": Rule(
        INCOMPATIBLE,
        "expand now, contract after the deploy: ship code that no longer uses the table, drop it in a later one",
    ),
    "renaming-column": Rule(
        INCOMPATIBLE,
        "expand now, contract after the deploy: add the new column, write both, backfill, switch reads, drop the "
        "old one later",
    ),
    "renaming-table": Rule(
        INCOMPATIBLE,
        "expand now, contract after the deploy: create the new table (or a view under the old name), switch the "
        "code, drop the old one later",
    ),
    "renaming-object": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "adding-required-field": Rule(
        INCOMPATIBLE,
        "add the column nullable or with a constant DEFAULT; old INSERTs do not set it",
    ),
    "ban-drop-not-null": Rule(
        INCOMPATIBLE,
        "old code may rely on the column never being NULL: drop NOT NULL once no running code does",
    ),
    "ban-drop-default": Rule(
        INCOMPATIBLE,
        "old INSERTs rely on the default: drop it once no running code omits the column",
    ),
    "ban-drop-constraint": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "changing-column-type": Rule(
        INCOMPATIBLE,
        "add a column of the new type, write both, backfill, switch reads, drop the old later",
    ),
    "ban-drop-view": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-function": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-type": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-schema": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-sequence": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-domain": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-extension": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-generated-expression": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-set-schema": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-alter-identity": Rule(INCOMPATIBLE, EXPAND_CONTRACT),
    "ban-drop-database": Rule(INCOMPATIBLE, "never from a migration"),
    "ban-truncate-cascade": Rule(
        INCOMPATIBLE, "TRUNCATE the tables you mean by name, without CASCADE"
    ),
    # --- locks that stop traffic, scans and rewrites ------------------------------------------------------
    "require-concurrent-index-creation": Rule(
        BLOCKING,
        "build the index CONCURRENTLY in an autocommit block (postgresql_concurrently=True inside "
        "op.get_context().autocommit_block())",
    ),
    "require-concurrent-index-deletion": Rule(
        BLOCKING,
        "drop the index CONCURRENTLY in an autocommit block (postgresql_concurrently=True inside "
        "op.get_context().autocommit_block())",
    ),
    "constraint-missing-not-valid": Rule(
        BLOCKING,
        "add the constraint NOT VALID, validate it in a later revision (VALIDATE CONSTRAINT takes no write "
        "lock)",
    ),
    "adding-foreign-key-constraint": Rule(
        BLOCKING,
        "add the foreign key NOT VALID (postgresql_not_valid=True), validate it in a later revision",
    ),
    "adding-not-nullable-field": Rule(
        BLOCKING,
        "add CHECK (col IS NOT NULL) NOT VALID, validate it in a later revision, then SET NOT NULL (no scan)",
    ),
    "adding-field-with-default": Rule(
        BLOCKING,
        "add the column nullable without a volatile default, backfill in batches, then set the default",
    ),
    "disallowed-unique-constraint": Rule(
        BLOCKING,
        "build a UNIQUE index CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX",
    ),
    "adding-serial-primary-key-field": Rule(
        BLOCKING,
        "build a UNIQUE index CONCURRENTLY first, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX",
    ),
    "require-concurrent-reindex": Rule(BLOCKING, "REINDEX CONCURRENTLY in an autocommit block"),
    "require-concurrent-partition-detach": Rule(
        BLOCKING, "DETACH PARTITION ... CONCURRENTLY in an autocommit block"
    ),
    "prefer-repack": Rule(BLOCKING, "use pg_repack (or REPACK on 19+) outside the deploy"),
    "ban-create-domain-with-constraint": Rule(
        BLOCKING, "put the constraint on the columns as NOT VALID checks"
    ),
    "ban-alter-domain-with-add-constraint": Rule(
        BLOCKING, "put the constraint on the columns as NOT VALID checks"
    ),
    # --- the transaction shape: these fail or misbehave whatever the table -------------------------------
    "ban-concurrent-index-creation-in-transaction": Rule(
        BLOCKING,
        "CONCURRENTLY cannot run in a transaction: put it in op.get_context().autocommit_block()",
        judgeable=False,
    ),
    "transaction-nesting": Rule(
        BLOCKING,
        "no BEGIN/COMMIT in a revision: the hook runs each revision in its own transaction",
        judgeable=False,
    ),
    "ban-uncommitted-transaction": Rule(
        BLOCKING,
        "no BEGIN/COMMIT in a revision: the hook runs each revision in its own transaction",
        judgeable=False,
    ),
    "syntax-error": Rule(
        BLOCKING,
        "squawk could not parse the statement, and then checks nothing else in the revision: fix the SQL or "
        "acknowledge after review",
        judgeable=False,
    ),
    # --- advisory -----------------------------------------------------------------------------------------
    "prefer-robust-stmts": Rule(
        ADVISORY,
        "outside a transaction use IF [NOT] EXISTS, so a re-run after a failure can continue",
    ),
    "unused-ignore": Rule(ADVISORY, "remove the squawk-ignore comment"),
    # style: disabled by default (DEFAULT_DISABLED); `enable = <rule>` in the policy reports them
    "prefer-bigint-over-int": Rule(ADVISORY, "use BIGINT"),
    "prefer-bigint-over-smallint": Rule(ADVISORY, "use BIGINT"),
    "prefer-identity": Rule(ADVISORY, "use an IDENTITY column"),
    "prefer-text-field": Rule(ADVISORY, "use TEXT with a CHECK on the length"),
    "prefer-timestamp-tz": Rule(ADVISORY, "use TIMESTAMPTZ"),
    "ban-char-field": Rule(ADVISORY, "use TEXT"),
    "identifier-too-long": Rule(ADVISORY, "use a name of at most 63 bytes"),
    "require-enum-value-ordering": Rule(ADVISORY, "add the value with BEFORE/AFTER"),
    "ban-duplicate-column-assignments": Rule(ADVISORY, "assign each column once"),
    # the hook sets lock_timeout and statement_timeout on every migration session itself
    "require-lock-timeout": Rule(ADVISORY, "the hook sets lock_timeout itself"),
    "require-statement-timeout": Rule(ADVISORY, "the hook sets statement_timeout itself"),
    # --- the hook's own --------------------------------------------------------------------------------
    NOT_REVIEWABLE: Rule(
        BLOCKING,
        "guard database reads with `if not context.is_offline_mode():` so the revision renders offline, measure "
        "it with `alembic-hook rehearse`, or acknowledge after review",
        judgeable=False,
    ),
    # not acknowledgeable (judge.py): a missing tool is not a property of the revision, the fix is the tool
    LINT_UNAVAILABLE: Rule(
        BLOCKING,
        "install the linter: `pip install squawk-cli==2.70.0` where the CLI runs (it comes with `pip install "
        "alembic-deploy-hook`), or set $ALEMBIC_HOOK_SQUAWK to a squawk binary; for the function, synthesize "
        "again where the revisions import (the build lints them into the asset)",
        judgeable=False,
    ),
    TABLE_REWRITE: Rule(
        BLOCKING,
        "rewrite big tables outside the deploy (pg_repack); add an IDENTITY column, or a nullable column "
        "filled in batches, instead of SERIAL",
    ),
    CONCURRENTLY_IN_TRANSACTION: Rule(
        BLOCKING,
        "CONCURRENTLY cannot run in a transaction: put it in op.get_context().autocommit_block()",
        judgeable=False,
    ),
    AUTOCOMMIT_WITHOUT_CONCURRENTLY: Rule(
        BLOCKING,
        "add CONCURRENTLY (postgresql_concurrently=True): the autocommit block exists for it, and outside a "
        "transaction nothing rolls the statement back",
    ),
    LOCK_TABLE: Rule(
        BLOCKING,
        "do not lock the table for the revision: write the statements so each takes only the lock it needs, "
        "or acknowledge with the reason the lock is brief",
        sized=False,
    ),
    UNBOUNDED_WRITE: Rule(
        BLOCKING,
        "backfill in batches (WHERE id BETWEEN ... ) in a job or revisions of their own, after the schema change",
    ),
    DATA_MIGRATION: Rule(
        DATA,
        "backfill in batches in a revision (or job) of its own, after the schema change has shipped",
    ),
    BAD_ACKNOWLEDGMENT: Rule(
        BLOCKING,
        'write alembic_hook_acknowledge = {"rule-name": "why it is safe"} (a dict of non-empty strings)',
        judgeable=False,
    ),
    UNUSED_ACKNOWLEDGMENT: Rule(
        ADVISORY, "remove the acknowledgment: the revision no longer has that finding"
    ),
}

# Reported only when the policy enables them: style, and what the hook does itself.
DEFAULT_DISABLED = frozenset(
    {
        "require-lock-timeout",
        "require-statement-timeout",
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-text-field",
        "prefer-timestamp-tz",
        "ban-char-field",
        "identifier-too-long",
        "require-enum-value-ordering",
        "ban-duplicate-column-assignments",
    }
)


def rule(name: str) -> Rule:
    return RULES.get(name) or Rule(
        BLOCKING,
        f"squawk's rule {name} is not classified by this hook yet: read "
        f"https://squawkhq.com/docs/{name}",
    )

"""The hook's own checks, where squawk (2.70) cannot see: what it never flags on PostgreSQL 14-17, and what
only the revision's transaction shape shows. Each is a statement shape in Alembic's rendered SQL, nothing
more: squawk remains the linter.

- table-rewrite: VACUUM FULL, CLUSTER (squawk's prefer-repack fires only for 19+), ADD COLUMN ... SERIAL
  (a rewrite under ACCESS EXCLUSIVE; squawk says only prefer-identity);
- concurrently-in-transaction: DROP INDEX / REINDEX / DETACH PARTITION ... CONCURRENTLY inside a transaction
  fail at run time (squawk checks only CREATE INDEX);
- autocommit-without-concurrently: in an autocommit block, an index build/drop/reindex or a detach without
  CONCURRENTLY: the block exists for CONCURRENTLY, and outside a transaction nothing rolls it back;
- data-migration: UPDATE / DELETE / INSERT ... SELECT (a backfill), rows changed inside the deploy;
- lock-table: an explicit LOCK TABLE (ACCESS EXCLUSIVE unless a weaker mode is named), held to the commit;
- unbounded-write: UPDATE / DELETE without a WHERE clause (or `WHERE true`): every row locked, and the whole
  table scanned, until the revision commits (judged by the table's size);
- access-exclusive-rewrite: other statements that rewrite or scan under ACCESS EXCLUSIVE (SET LOGGED /
  UNLOGGED, SET TABLESPACE, REFRESH MATERIALIZED VIEW without CONCURRENTLY).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambda_fn.engine.gate import rules
from lambda_fn.engine.gate.sql import Statement

_REWRITE = re.compile(
    r"(?is)^\s*(?:VACUUM\s+(?:\(\s*[^)]*\bFULL\b[^)]*\)|FULL\b)|CLUSTER\b)"
    r"|^\s*ALTER\s+TABLE\b.*\bADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+(?:BIG|SMALL)?SERIAL\b"
)
_NEEDS_NO_TX = re.compile(
    r"(?is)^\s*(?:DROP\s+INDEX|REINDEX)\b|^\s*ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b"
)
_INDEX_WORK = re.compile(
    r"(?is)^\s*(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX)\b"
    r"|^\s*ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b"
)
_CONCURRENTLY = re.compile(r"(?i)\bCONCURRENTLY\b")
_LOCK = re.compile(r"(?is)^\s*LOCK\s+(?:TABLE\s+)?")
_LOCK_MODE = re.compile(r"(?is)\bIN\s+(.+?)\s+MODE\b")
_WRITE = re.compile(r"(?is)^\s*(?:WITH\b.*?\)\s*)?(?:UPDATE|DELETE\s+FROM)\b")
_SELECTIVE = re.compile(r"(?is)\bWHERE\b(?!\s+(?:true|1\s*=\s*1)\s*(?:RETURNING\b|$))")
_AE_REWRITE = re.compile(
    r"(?is)^\s*ALTER\s+TABLE\b.*\bSET\s+(?:LOGGED|UNLOGGED|TABLESPACE)\b"
    r"|^\s*REFRESH\s+MATERIALIZED\s+VIEW\b(?!\s+CONCURRENTLY)"
)
_DATA = re.compile(
    r"(?is)^\s*(?:WITH\b.*?\)\s*)?(?:UPDATE|DELETE\s+FROM)\b|^\s*INSERT\s+INTO\b.*?\bSELECT\b"
)

# squawk rules that say the same as autocommit-without-concurrently about the same statement
SAME_AS_AUTOCOMMIT = frozenset(
    {
        "require-concurrent-index-creation",
        "require-concurrent-index-deletion",
        "require-concurrent-reindex",
        "require-concurrent-partition-detach",
    }
)


@dataclass(frozen=True)
class Hit:
    rule: str
    index: int  # the statement's index in the chunk
    message: str


def check(statements: list[Statement]) -> list[Hit]:
    hits: list[Hit] = []
    for i, stmt in enumerate(statements):
        if stmt.control:
            continue
        sql = stmt.sql
        if _REWRITE.search(sql):
            hits.append(
                Hit(
                    rules.TABLE_REWRITE,
                    i,
                    "Rewrites the whole table under an ACCESS EXCLUSIVE lock: "
                    "reads and writes wait until it finishes.",
                )
            )
        concurrent = bool(_CONCURRENTLY.search(sql))
        if stmt.in_transaction and concurrent and _NEEDS_NO_TX.search(sql):
            hits.append(
                Hit(
                    rules.CONCURRENTLY_IN_TRANSACTION,
                    i,
                    "CONCURRENTLY inside a transaction fails at run "
                    "time (it cannot run in a transaction block).",
                )
            )
        if not stmt.in_transaction and not concurrent and _INDEX_WORK.search(sql):
            hits.append(
                Hit(
                    rules.AUTOCOMMIT_WITHOUT_CONCURRENTLY,
                    i,
                    "In an autocommit block but without "
                    "CONCURRENTLY: blocks writes for the whole "
                    "build, and no transaction rolls it back.",
                )
            )
        if _LOCK.match(sql):
            mode = m.group(1).upper() if (m := _LOCK_MODE.search(sql)) else "ACCESS EXCLUSIVE"
            hits.append(
                Hit(
                    rules.LOCK_TABLE,
                    i,
                    f"LOCK TABLE takes {mode} on the table and holds it until the "
                    "revision commits: with ACCESS EXCLUSIVE (the default) reads and "
                    "writes wait for everything the revision does after it.",
                )
            )
        if _WRITE.match(sql) and not _SELECTIVE.search(sql):
            hits.append(
                Hit(
                    rules.UNBOUNDED_WRITE,
                    i,
                    "UPDATE/DELETE without a WHERE clause scans the whole table "
                    "and locks every row until the revision commits: writers to "
                    "any row wait for the whole statement.",
                )
            )
        if _AE_REWRITE.search(sql):
            hits.append(
                Hit(
                    rules.TABLE_REWRITE,
                    i,
                    "Rewrites or scans the whole relation under an ACCESS "
                    "EXCLUSIVE lock: reads and writes wait until it finishes.",
                )
            )
        if _DATA.search(sql):
            hits.append(
                Hit(
                    rules.DATA_MIGRATION,
                    i,
                    "Changes rows during the deploy: row locks on every row "
                    "it touches until the revision commits.",
                )
            )
    return hits

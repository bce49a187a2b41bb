"""The recorder: what PostgreSQL says the migration's own backend holds, read after every statement that can
lock a relation.

SQLAlchemy's cursor events on the copy's connection time each statement; after each one, a second cursor
on the same DBAPI connection (the same backend, inside the same transaction) reads `pg_locks` for
`pg_backend_pid()`. A lock stays until its transaction ends, so "first seen after statement k, held until
the next commit" is exact, not sampled. A statement that cannot lock a relation (SET, a SELECT of constants,
Alembic's own version-row write) is not followed by a read: it cannot change what the read would show.
`relfilenode` before and after tells a rewrite; one catalogue snapshot per revision (the one after revision
N is the "before" of N+1 when nothing ran between) its rewrites and growth. The recorder's own queries go
through the raw DBAPI cursor, so no event fires for them and the migration's cursor (and its result rows) is
never touched.

Statements in an autocommit block run outside a transaction: their locks end with the statement and cannot
be read afterwards from this session; they are sampled from a second one while they run (sample.py), and
marked `autocommit`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Delete, Insert, Update, event
from sqlalchemy import Table as SATable

from lambda_fn.engine.rehearsal.measure import (
    LockSpan,
    RevisionMeasure,
    RowLocks,
    StatementMeasure,
    short,
)
from lambda_fn.engine.rehearsal.modes import sql_name
from lambda_fn.engine.rehearsal.sample import Sampler
from lambda_fn.log import logger
from lambda_fn.result import StepEvent

# Nothing here may raise inside the migration's transaction (it would abort it): a relation dropped in it
# (the transient heap of a rewrite) has no pg_class row, and format('%I', NULL) raises, hence the CASE.
# Locks of this backend on user relations (oid >= 16384: not the catalogues the query itself locks); an
# index or a TOAST table counts as its table
LOCKS_SQL = """
SELECT coalesce(i.indrelid, t.oid, l.relation)::int8, l.mode,
       coalesce(pg_relation_filenode(c.oid), 0)::int8,
       CASE WHEN n.oid IS NULL THEN l.relation::text ELSE format('%I.%I', n.nspname, c.relname) END,
       l.relation::int8
  FROM pg_locks l
  LEFT JOIN pg_index i ON i.indexrelid = l.relation
  LEFT JOIN pg_class t ON t.reltoastrelid = l.relation
  LEFT JOIN pg_class c ON c.oid = coalesce(i.indrelid, t.oid, l.relation)
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND l.relation >= 16384
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND (c.relkind IS NULL OR c.relkind IN ('r', 'p', 'm', 'f'))
"""
# one catalogue snapshot: every user relation (indexes and TOAST tables too: a lock on one that is new in the
# revision blocks nobody) with the table it belongs to (a lock on one dropped later is named by it), and the
# filenode, size and "has rows" of the tables among them
SNAPSHOT_SQL = """
SELECT c.oid::int8, c.relkind IN ('r', 'p', 'm'), format('%I.%I', n.nspname, c.relname),
       coalesce(pg_relation_filenode(c.oid), 0)::int8,
       CASE WHEN c.relkind IN ('r', 'p', 'm') THEN pg_total_relation_size(c.oid) ELSE 0 END::int8,
       c.reltuples > 0 OR (c.relkind IN ('r', 'p', 'm') AND pg_relation_size(c.oid) > 0),
       coalesce(i.indrelid, t.oid, c.oid)::int8
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
 WHERE c.oid >= 16384
"""
# statements that cannot take a lock on a relation, so reading pg_locks after them could show nothing new: session
# settings and transaction control (not SET CONSTRAINTS: it fires deferred triggers), and a SELECT of constants
# (words, numbers, quoted text and commas only: no FROM, INTO or TABLE, no call, cast, operator or subquery). One
# statement only: a `;` inside (several statements) means read.
_NO_RELATION_LOCK = re.compile(
    r"^\s*(?:(?:SET(?!\s+CONSTRAINTS)|RESET|SHOW|BEGIN|START\s+TRANSACTION|SAVEPOINT|RELEASE)\b[^;]*"
    r"|SELECT\b(?![^;]*\b(?:FROM|INTO|TABLE)\b)[\w\s,.'\"]*);?\s*$",
    re.IGNORECASE,
)
# the recorder's two queries are prepared once on the copy's session (planning the catalogue joins is most of
# their cost); a statement that may drop prepared statements (DEALLOCATE, DISCARD) turns back to plain SQL
_PREPARED = {
    LOCKS_SQL: "alembic_hook_rehearsal_locks",
    SNAPSHOT_SQL: "alembic_hook_rehearsal_snapshot",
}
_DROPS_PREPARED = re.compile(r"\b(?:DEALLOCATE|DISCARD)\b", re.IGNORECASE)
_ROW_WRITE = re.compile(r"^\s*(?:UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?([^\s(]+)", re.IGNORECASE)


def _named(rev: _Revision, row: Any) -> tuple[int, str, int, str, int]:
    """A lock row (table oid, mode, filenode, name, relation) with its table: a relation dropped in this
    transaction has no pg_class row any more (the query gives its oid as its name), so it is named by the
    table it belonged to at the revision's start."""
    oid, mode, filenode, name, relation = (
        int(row[0]),
        str(row[1]),
        int(row[2]),
        str(row[3]),
        int(row[4]),
    )
    if name == str(relation) and relation in rev.relations:
        oid = rev.relations[relation]
        name = rev.before[oid].name if oid in rev.before else name
    return oid, mode, filenode, name, relation


def _version_write(context: Any) -> bool:
    """Alembic's own write of the version row (its Core INSERT/UPDATE/DELETE on the version table, the one
    table with the single column `version_num`): bookkeeping that takes ROW EXCLUSIVE on the version table
    and nothing else (it blocks no reader or writer), not the migration's work. Not read: one query less
    per revision."""
    statement = getattr(getattr(context, "compiled", None), "statement", None)
    table = getattr(statement, "table", None)
    return (
        isinstance(statement, Insert | Update | Delete)
        and isinstance(table, SATable)
        and [c.name for c in table.columns] == ["version_num"]
    )


@dataclass(frozen=True)
class Table:
    name: str
    filenode: int
    size: int
    rows: bool


@dataclass(frozen=True)
class Snapshot:
    """The catalogue at one moment: the user tables by oid, and every user relation's oid with the oid of
    the table it belongs to (itself for a table)."""

    tables: dict[int, Table]
    relations: dict[int, int]


@dataclass
class _Held:
    statement: int
    acquired_s: float
    name: str
    created: bool


@dataclass
class _Revision:
    """The revision being measured."""

    revision: str
    description: str
    began: float
    before: dict[int, Table]
    relations: dict[int, int]
    statements: list[StatementMeasure] = field(default_factory=list)
    spans: list[LockSpan] = field(default_factory=list)
    row_locks: list[RowLocks] = field(default_factory=list)
    held: dict[tuple[int, str, bool], _Held] = field(default_factory=dict)
    rows_held: list[tuple[int, str, int, float]] = field(default_factory=list)
    filenodes: dict[int, int] = field(default_factory=dict)
    started: float = 0.0
    done: bool = False  # its version row is written: later statements are the hook's own reads
    after: Snapshot | None = None  # taken at its last COMMIT


class Recorder:
    """Attach to the copy's connection for the rehearsal; `observe` is apply's step observer."""

    def __init__(self, conn: Connection, sha_of: Callable[[str], str]) -> None:
        self.conn = conn
        self.sha_of = sha_of
        self.at_start: dict[int, Table] = {}
        self.measures: list[RevisionMeasure] = []
        self._rev: _Revision | None = None
        # the snapshot after the last revision, while no statement has run since: the next one's "before"
        self._last: Snapshot | None = None
        self._prepared = False
        self._sampler: Sampler | None = None  # an autocommit statement's locks (sample.py)
        self._pid = 0  # the migration's backend, for the sampler
        self._events: list[tuple[str, Callable[..., None]]] = [
            ("before_cursor_execute", self._before),
            ("after_cursor_execute", self._after),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]

    def __enter__(self) -> Recorder:
        self._prepare()
        self.at_start = self.snapshot().tables
        for name, fn in self._events:
            event.listen(self.conn, name, fn)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for name, fn in self._events:
            event.remove(self.conn, name, fn)
        if self._sampler is not None:
            self._sampler.close()

    # --- apply's observer and Alembic's on_version_apply ------------------------------------------

    def observe(self, step: StepEvent) -> None:
        if step.duration_ms is None:
            before, self._last = self._last or self.snapshot(), None
            self._rev = _Revision(
                step.revision, step.description, time.monotonic(), before.tables, before.relations
            )
        elif self._rev is not None:
            self.measures.append(self._finish(self._rev, step.duration_ms / 1000))
            self._rev = None

    def version_applied(self, step: Any) -> None:
        if self._rev is not None:
            self._rev.done = True

    # --- SQLAlchemy events -------------------------------------------------------------------------

    def _before(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if self._prepared and _DROPS_PREPARED.search(statement):
            self._prepared = (
                False  # before it runs: nothing after it may EXECUTE what it may have dropped
            )
        if self._rev is None:
            self._last = (
                None  # something ran between two revisions (env.py again, say): snapshot afresh
            )
        elif not self._rev.done:
            if getattr(self._dbapi(), "autocommit", False) and not _NO_RELATION_LOCK.match(
                statement
            ):
                self._sampling().start()  # its locks end with it: seen only while it runs
            self._rev.started = time.monotonic()

    def _after(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        *args: Any,
    ) -> None:
        rev = self._rev
        if rev is None or rev.done:
            return
        now = time.monotonic()
        index = len(rev.statements)
        autocommit = bool(getattr(self._dbapi(), "autocommit", False))
        rowcount = (
            cursor.rowcount if isinstance(cursor.rowcount, int) and cursor.rowcount >= 0 else None
        )
        new_locks, rewrote = [], []
        start_s = rev.started - rev.began
        # a statement that cannot lock a relation cannot change what pg_locks shows: no read, nothing lost
        quiet = _NO_RELATION_LOCK.match(statement) or _version_write(context)
        if autocommit:
            new_locks += self._sampled(rev, index, start_s, now - rev.started)
        held = [] if quiet or autocommit else self._query(LOCKS_SQL)
        for row in held:
            oid, mode, filenode, name, relation = _named(rev, row)
            # e.g. the index a CREATE INDEX builds: nobody sees it yet
            created = relation not in rev.relations
            if (oid, mode, created) not in rev.held:
                rev.held[(oid, mode, created)] = _Held(index, start_s, name, created)
                if not created:
                    new_locks.append(f"{sql_name(mode)} on {name}")
            last = rev.filenodes.get(
                oid, rev.before[oid].filenode if oid in rev.before else filenode
            )
            if filenode and last and filenode != last:
                rewrote.append(name)
            if filenode:  # a dropped relation has none: it says nothing about its table's
                rev.filenodes[oid] = filenode
        if (
            rowcount
            and (m := _ROW_WRITE.match(statement))
            and (table := self._existing(rev, m.group(1)))
        ):
            if autocommit:
                rev.row_locks.append(RowLocks(index, table, rowcount, now - rev.started))
            else:
                rev.rows_held.append((index, table, rowcount, start_s))
        rev.statements.append(
            StatementMeasure(
                index,
                short(statement),
                round(now - rev.started, 4),
                rowcount,
                new_locks,
                rewrote,
                autocommit,
            )
        )

    def _commit(self, conn: Connection) -> None:
        rev = self._rev
        if rev is not None:
            at = time.monotonic() - rev.began
            if rev.done and rev.after is None:
                # the revision's last transaction, its work all done and visible to it: the snapshot after the
                # revision, read before its COMMIT (no transaction of the recorder's own to begin and end)
                rev.after = self.snapshot()
            self._close(rev, at)

    def _rollback(self, conn: Connection) -> None:
        # the attempt is undone (apply retries the whole revision, or reports its failure)
        if self._rev is not None:
            old = self._rev
            self._rev = _Revision(
                old.revision, old.description, time.monotonic(), old.before, old.relations
            )

    # --- internals ---------------------------------------------------------------------------------

    def _close(self, rev: _Revision, at: float) -> None:
        """The transaction ended: every lock and row lock it held is released now."""
        for (oid, mode, _), h in rev.held.items():
            start = self.at_start.get(oid)
            rev.spans.append(
                LockSpan(
                    h.name,
                    mode,
                    h.statement,
                    round(h.acquired_s, 4),
                    round(at - h.acquired_s, 4),
                    h.created,
                    bool(start and start.rows),
                )
            )
        for index, table, rows, began in rev.rows_held:
            rev.row_locks.append(RowLocks(index, table, rows, round(at - began, 4)))
        rev.held, rev.rows_held = {}, []

    def _finish(self, rev: _Revision, duration_s: float) -> RevisionMeasure:
        self._close(rev, time.monotonic() - rev.began)
        self._last = snapshot = rev.after or self.snapshot()
        after = snapshot.tables
        rewritten = {
            t.name
            for oid, t in rev.before.items()
            if oid in after and after[oid].filenode != t.filenode
        }
        growth = sum(t.size for t in after.values()) - sum(t.size for t in rev.before.values())
        return RevisionMeasure(
            rev.revision,
            rev.description,
            self.sha_of(rev.revision),
            round(duration_s, 4),
            rev.statements,
            rev.spans,
            rev.row_locks,
            sorted(rewritten),
            growth,
        )

    def _existing(self, rev: _Revision, written: str) -> str | None:
        """The table an UPDATE/DELETE names, if it existed before the revision (rows in a new table lock nobody)."""
        bare = written.replace('"', "").lower()
        for table in rev.before.values():
            name = table.name.replace('"', "").lower()
            if name == bare or name.split(".", 1)[-1] == bare:
                return table.name
        return None

    def snapshot(self) -> Snapshot:
        rows = self._query(SNAPSHOT_SQL)
        return Snapshot(
            {int(r[0]): Table(str(r[2]), int(r[3]), int(r[4]), bool(r[5])) for r in rows if r[1]},
            {int(r[0]): int(r[6]) for r in rows},
        )

    def _dbapi(self) -> Any:
        return self.conn.connection.dbapi_connection

    def _sampling(self) -> Sampler:
        if self._sampler is None:
            self._sampler = Sampler(self.conn.engine.raw_connection, self._pid)
        return self._sampler

    def _sampled(self, rev: _Revision, index: int, start_s: float, took: float) -> list[str]:
        """The locks the sampler saw while this autocommit statement ran, each held for the statement."""
        if self._sampler is None:
            return []
        seen = self._sampler.stop()
        if self._sampler.error:
            logger.warning(
                "Rehearsal: an autocommit statement's locks could not be sampled",
                extra={"revision": rev.revision, "statement": index, "error": self._sampler.error},
            )
        new, named = [], set()
        for oid, mode, relation in sorted(seen):
            # dropped meanwhile: its table
            table = rev.relations.get(relation) if oid == relation else oid
            if relation not in rev.relations or table not in rev.before or (table, mode) in named:
                continue  # new in this revision (blocks nobody), or seen already
            named.add((table, mode))
            start = self.at_start.get(table)
            rev.spans.append(
                LockSpan(
                    rev.before[table].name,
                    mode,
                    index,
                    round(start_s, 4),
                    round(took, 4),
                    rows=bool(start and start.rows),
                    sampled=True,
                )
            )
            new.append(f"{sql_name(mode)} on {rev.before[table].name}")
        return new

    def _prepare(self) -> None:
        """Outside any transaction of the migration (before it starts): a failure here aborts nothing."""
        dbapi = self._dbapi()
        cursor = dbapi.cursor()
        try:
            for sql, name in _PREPARED.items():
                cursor.execute(f"PREPARE {name} AS {sql}")
            cursor.execute("SELECT pg_backend_pid()")
            self._pid = int(cursor.fetchall()[0][0])
        finally:
            cursor.close()
        if not self.conn.in_transaction() and not getattr(dbapi, "autocommit", False):
            dbapi.commit()
        self._prepared = True

    def _query(self, sql: str) -> list[Any]:
        dbapi = self._dbapi()
        cursor = dbapi.cursor()
        try:
            cursor.execute(f"EXECUTE {_PREPARED[sql]}" if self._prepared else sql)
            rows = list(cursor.fetchall())
        finally:
            cursor.close()
        if not self.conn.in_transaction() and not getattr(dbapi, "autocommit", False):
            dbapi.commit()  # outside the migration's transaction: leave none of the recorder's open
        return rows

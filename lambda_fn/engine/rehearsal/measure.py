"""What a rehearsal measured: per revision its wall time, statements, the locks its transactions held, the
relations it rewrote and how much the tables it touched grew. Plain values with their JSON, so the same
measurement is printed, kept in the target's ledger and read back by the gate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lambda_fn.engine.rehearsal.modes import blocks, sql_name

STATEMENT_LIMIT = 160


def short(sql: str, limit: int = STATEMENT_LIMIT) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class LockSpan:
    """One table lock of one transaction: first seen after `statement`, held until that transaction ended."""

    table: str  # schema.name (an index or TOAST table counts as its table)
    mode: str  # pg_locks.mode, e.g. AccessExclusiveLock
    statement: int  # index of the statement that took it
    acquired_s: float  # when, in seconds from the revision's start (that statement's start)
    held_s: float  # until its transaction committed (or, for the last, ended)
    created: bool = (
        False  # the relation is new in this revision: nobody else can see it, it blocks nobody
    )
    rows: bool = False  # the table held rows when the rehearsal started (what the target holds)
    sampled: bool = (
        False  # in an autocommit block: seen by sampling while its statement ran, held_s = that
    )
    # statement's duration (engine/rehearsal/sample.py)

    @property
    def blocks(self) -> str | None:
        return None if self.created else blocks(self.mode)

    def describe(self) -> str:
        what = self.blocks
        return f"{sql_name(self.mode)} on {self.table}" + (f" (blocks {what})" if what else "")


@dataclass(frozen=True)
class RowLocks:
    """An UPDATE or DELETE: the rows it changed stay locked against other writers until its transaction ends."""

    statement: int
    table: str | None
    rows: int
    held_s: float


@dataclass(frozen=True)
class StatementMeasure:
    index: int
    sql: str
    duration_s: float
    rowcount: int | None = None
    locks: list[str] = field(default_factory=list)  # modes first taken here, "MODE on table"
    # tables whose relfilenode this statement changed
    rewrote: list[str] = field(default_factory=list)
    autocommit: bool = (
        False  # outside a transaction: its locks ended with it and cannot be read afterwards
    )


@dataclass(frozen=True)
class RevisionMeasure:
    revision: str
    description: str
    sha256: str
    duration_s: float
    statements: list[StatementMeasure] = field(default_factory=list)
    locks: list[LockSpan] = field(default_factory=list)
    row_locks: list[RowLocks] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    growth_bytes: int = 0

    def blocking(self) -> list[LockSpan]:
        """Locks that blocked reads or writes on a table the running code can see, longest first."""
        return sorted((lk for lk in self.locks if lk.blocks), key=lambda lk: -lk.held_s)

    def statement(self, index: int) -> StatementMeasure | None:
        return next((s for s in self.statements if s.index == index), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RevisionMeasure:
        return cls(
            revision=str(data["revision"]),
            description=str(data.get("description", "")),
            sha256=str(data["sha256"]),
            duration_s=float(data["duration_s"]),
            statements=[StatementMeasure(**s) for s in data.get("statements", [])],
            locks=[LockSpan(**lk) for lk in data.get("locks", [])],
            row_locks=[RowLocks(**r) for r in data.get("row_locks", [])],
            rewritten=list(data.get("rewritten", [])),
            growth_bytes=int(data.get("growth_bytes", 0)),
        )

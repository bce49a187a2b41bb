"""The answer of every run: one JSON-serialisable value each caller renders in its own form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from lambda_fn.errors import ErrorKind


class Status(StrEnum):
    APPLIED = "applied"          # something changed (upgrade, downgrade or stamp)
    UP_TO_DATE = "up_to_date"    # nothing to do: at (or past) the target
    PENDING = "pending"          # read-only commands: revisions wait to be applied
    OK = "ok"                    # read-only commands with nothing to judge (history, heads, sql)
    SKIPPED = "skipped"          # SKIP_MIGRATIONS: the database was not touched
    FAILED = "failed"


@dataclass(frozen=True)
class RevisionRun:
    revision: str
    description: str
    direction: str  # upgrade | downgrade | stamp
    duration_ms: float


@dataclass(frozen=True)
class ErrorInfo:
    kind: ErrorKind
    message: str
    revision: str | None = None


@dataclass
class Result:
    command: str
    status: Status
    target: str | None = None
    from_revision: str | None = None
    to_revision: str | None = None
    applied: list[RevisionRun] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    lock_wait_ms: float = 0.0
    duration_ms: float = 0.0
    database: str | None = None  # host/dbname, never credentials
    message: str = ""
    error: ErrorInfo | None = None
    history: list[dict[str, Any]] | None = None
    sql: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAILED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("history", "sql", "error"):
            if data[key] is None:
                del data[key]
        return data

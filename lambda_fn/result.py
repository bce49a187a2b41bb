"""The answer of every run: one JSON-serialisable value each caller renders in its own form.

Every failed Result, wherever it is made (the engine, a source refusing a malformed event, the CLI's
remote invoke), is built by `Result.failure` or `Result.fail`, and serialised by `to_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.findings import Finding


@dataclass(frozen=True)
class RevisionRun:
    revision: str
    description: str
    direction: str  # upgrade | downgrade | stamp
    duration_ms: float


@dataclass(frozen=True)
class StepEvent:
    """A revision starting (duration_ms None) or finished, for a caller that shows progress as it goes."""

    index: int
    total: int
    revision: str
    description: str
    direction: str
    duration_ms: float | None = None


@dataclass(frozen=True)
class ErrorInfo:
    kind: ErrorKind
    message: str
    revision: str | None = None
    holder: str | None = None  # migration_locked: the lock holder's application_name

    @classmethod
    def of(cls, error: HookError) -> ErrorInfo:
        return cls(
            kind=error.kind, message=error.message, revision=error.revision, holder=error.holder
        )


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
    run_id: int | None = None  # the ledger's run row
    long_revision: str | None = (
        None  # partial: the next revision is declared long (alembic_hook_long = True)
    )
    snapshot: str | None = None  # the snapshot a workflow took before this run
    log: list[dict[str, Any]] | None = None  # the ledger, newest first (log)
    env: dict[str, Any] | None = (
        None  # how env.py reaches the database and its version table (check)
    )
    findings: list[Finding] | None = (
        None  # the safety gate's findings on the pending revisions (None: not run)
    )
    lint_skipped: str | None = (
        None  # the reason given for running without the safety gate (confirmed escape)
    )
    rehearsal: dict[str, Any] | None = (
        None  # rehearse: the copy, the policy, each revision's measurement, verdict
    )

    @classmethod
    def failure(cls, command: str, error: HookError, target: str | None = None) -> Result:
        """The Result of a request that failed before (or outside) the engine."""
        result = cls(command=command, status=Status.FAILED, target=target)
        result.fail(error)
        return result

    @classmethod
    def internal(cls, command: str, exc: BaseException) -> Result:
        """A bug in the function: say so without echoing anything that may carry event data."""
        return cls.failure(
            command,
            HookError(
                ErrorKind.INTERNAL,
                f"Unexpected {type(exc).__name__} in the "
                "function; this is a bug in the hook and its log holds the traceback.",
            ),
        )

    def fail(self, error: HookError) -> None:
        """Mark a run failed, keeping what it learned on the way (revisions applied, where it stopped)."""
        self.status = Status.FAILED
        self.error = ErrorInfo.of(error)
        self.message = error.message

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAILED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.findings is not None:
            data["findings"] = [f.to_dict() for f in self.findings]
        for key in (
            "history",
            "sql",
            "error",
            "env",
            "findings",
            "lint_skipped",
            "log",
            "rehearsal",
        ):
            if data[key] is None:
                del data[key]
        if data.get("error") and data["error"]["holder"] is None:
            del data["error"]["holder"]
        return data

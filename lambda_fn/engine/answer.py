"""What a command answers: each handler returns what it found or did (a small frozen value that says which
status and message that is), and `give` writes it into the run's `Result` - with the log line that goes with
it - for the fast path (`at_head.py`) and the full path (`commands.py`) alike, so the two cannot drift apart.

A failure is never an outcome: it is a `HookError`, which the caller turns into `Result.fail`. Light on
purpose (the fast path imports it): no SQLAlchemy, no Alembic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lambda_fn.contract import Status
from lambda_fn.findings import Finding, counts
from lambda_fn.log import logger
from lambda_fn.request import Command
from lambda_fn.result import Result


@dataclass(frozen=True)
class Found:
    """status / current: where the database is, the heads, what waits, and the safety gate's findings on
    what waits (None: not judged)."""

    current: str | None
    heads: tuple[str, ...]
    pending: tuple[str, ...]
    findings: tuple[Finding, ...] | None = None

    def answer(self) -> tuple[Status, str]:
        at = self.current or "an empty database (no revision)"
        if not self.pending:
            return Status.UP_TO_DATE, f"at {at}; up to date with head {', '.join(self.heads)}"
        return Status.PENDING, _gate(
            f"at {at}; {len(self.pending)} pending: {', '.join(self.pending)}", self.findings
        )


@dataclass(frozen=True)
class NoOp:
    """upgrade / downgrade with nothing to apply: the database is at (or past) the target."""

    current: str | None
    target: str

    def answer(self) -> tuple[Status, str]:
        return (
            Status.UP_TO_DATE,
            f"already at {self.current or 'base'}; nothing to apply for {self.target}",
        )


@dataclass(frozen=True)
class Applied:
    """upgrade / downgrade that applied every step; `pending` is what remains towards the heads."""

    direction: str
    from_revision: str | None
    to_revision: str | None
    runs: int
    pending: tuple[str, ...]

    def answer(self) -> tuple[Status, str]:
        return Status.APPLIED, (
            f"{self.direction}d {self.runs} revision(s): {self.from_revision or 'base'} -> "
            f"{self.to_revision or 'base'}"
        )


@dataclass(frozen=True)
class Partial:
    """A time-budgeted run that stopped between revisions: why, and the revisions left for the next call."""

    reason: str
    pending: tuple[str, ...]

    def answer(self) -> tuple[Status, str]:
        return Status.PARTIAL, self.reason


@dataclass(frozen=True)
class Stopped:
    """A time-budgeted iteration that ran out of time before it could start: nothing was applied."""

    reason: str

    def answer(self) -> tuple[Status, str]:
        return (
            Status.PARTIAL,
            f"stopped: {self.reason} Nothing more was applied in this iteration; call again.",
        )


@dataclass(frozen=True)
class Skipped:
    """SKIP_MIGRATIONS: the database was not touched."""

    def answer(self) -> tuple[Status, str]:
        return Status.SKIPPED, "SKIP_MIGRATIONS is set: the database was not touched."


@dataclass(frozen=True)
class Stamped:
    to_revision: str | None
    was: str  # the revision(s) before, or "empty"
    pending: tuple[str, ...]

    def answer(self) -> tuple[Status, str]:
        return Status.APPLIED, f"stamped {self.to_revision or 'base'} (was {self.was}); no DDL ran"


@dataclass(frozen=True)
class Accepted:
    revision: str
    sha256: str
    current: str | None

    def answer(self) -> tuple[Status, str]:
        return Status.APPLIED, (
            f"accepted the deployed file of {self.revision} (sha256 {self.sha256[:12]}); no DDL ran"
        )


@dataclass(frozen=True)
class Ready:
    """check: the deploy will migrate this database."""

    database: str | None
    connection: str  # how env.py reaches the database
    version_table: str  # schema-qualified when env.py names a schema
    revisions: int  # revision files imported
    heads: tuple[str, ...]
    pending: tuple[str, ...]

    def answer(self) -> tuple[Status, str]:
        return (
            Status.PENDING if self.pending else Status.UP_TO_DATE,
            f"ready: env.py migrates {self.database} through {self.connection}; version table "
            f"{self.version_table}; {self.revisions} revision(s) import cleanly; head {', '.join(self.heads)}; "
            f"{len(self.pending)} pending",
        )


@dataclass(frozen=True)
class HeadRevisions:
    heads: tuple[str, ...]

    def answer(self) -> tuple[Status, str]:
        return Status.OK, f"head(s): {', '.join(self.heads)}"


@dataclass(frozen=True)
class History:
    revisions: int

    def answer(self) -> tuple[Status, str]:
        return Status.OK, f"{self.revisions} revisions"


@dataclass(frozen=True)
class Logged:
    """log: the ledger's runs (none when the ledger does not exist yet), optionally those touching a revision."""

    runs: int
    touching: str | None
    ledger: bool = True

    def answer(self) -> tuple[Status, str]:
        if not self.ledger:
            return Status.OK, "no ledger yet: the hook has not changed this database"
        return Status.OK, f"{self.runs} run(s), newest first" + (
            f", touching {self.touching}" if self.touching else ""
        )


@dataclass(frozen=True)
class Sql:
    target: str
    pending: tuple[str, ...]
    findings: tuple[Finding, ...] | None = None

    def answer(self) -> tuple[Status, str]:
        if not self.pending:
            return Status.UP_TO_DATE, f"nothing to apply: the database is at or past {self.target}"
        return Status.PENDING, _gate(
            f"SQL for {len(self.pending)} pending revision(s)", self.findings
        )


@dataclass(frozen=True)
class Linted:
    """lint against the database: the pending revisions judged live."""

    pending: int
    current: str | None
    findings: tuple[Finding, ...]

    def answer(self) -> tuple[Status, str]:
        return (
            Status.PENDING if self.pending else Status.UP_TO_DATE,
            f"{self.pending} pending revision(s) checked against the database at {self.current or 'base'}: "
            f"{counts(self.findings) or 'no findings'}",
        )


@dataclass(frozen=True)
class LintedOffline:
    revisions: int
    findings: tuple[Finding, ...]

    def answer(self) -> tuple[Status, str]:
        return Status.OK, (
            f"{self.revisions} revision(s) linted offline (sizes unknown: a deploy judges blocking "
            f"findings against the live tables): {counts(self.findings) or 'no findings'}"
        )


@dataclass(frozen=True)
class NothingToRehearse:
    current: str | None

    def answer(self) -> tuple[Status, str]:
        return Status.UP_TO_DATE, f"nothing to rehearse: the target is at {self.current or 'base'}"


@dataclass(frozen=True)
class Rehearsed:
    revisions: int
    copy: str  # host/dbname of the copy
    kind: str
    seconds: float
    max_lock_seconds: float

    def answer(self) -> tuple[Status, str]:
        return Status.OK, (
            f"rehearsed {self.revisions} revision(s) on {self.copy} ({self.kind}) in "
            f"{self.seconds:.2f} s: within policy (blocking locks on tables with rows at most "
            f"{self.max_lock_seconds:g} s)"
        )


Outcome = (
    Found
    | NoOp
    | Applied
    | Partial
    | Stopped
    | Skipped
    | Stamped
    | Accepted
    | Ready
    | HeadRevisions
    | History
    | Logged
    | Sql
    | Linted
    | LintedOffline
    | NothingToRehearse
    | Rehearsed
)


def _gate(message: str, findings: Sequence[Finding] | None) -> str:
    """status / sql: the findings a deploy would meet, summed up after the message (nothing refused here)."""
    text = counts(findings)
    return f"{message}; safety gate: {text}" if text else message


def give(result: Result, outcome: Outcome) -> None:
    """Write the answer into the run's result: the one place a result's status and message are set (a
    failure's are set by `Result.fail`), with the fields the outcome decides."""
    status, message = outcome.answer()
    match outcome:
        case NoOp(target=target):
            result.pending, result.target = [], target
        case Applied(pending=pending) | Partial(pending=pending) | Stamped(pending=pending):
            result.pending = list(pending)
        case HeadRevisions(heads):
            result.heads = list(heads)
    result.status, result.message = status, message
    if isinstance(outcome, Skipped):
        logger.warning(message)


def situation(
    result: Result,
    command: Command,
    current: tuple[str, ...],
    heads: Sequence[str],
    pending: Callable[[], Sequence[str]],
) -> None:
    """Where the database is before the command runs, on the result and in the log line both paths write
    (`pending` is read last: a failure there still reports where the database is)."""
    result.from_revision = result.to_revision = ",".join(current) or None
    result.heads = list(heads)
    result.pending = list(pending())
    logger.info(
        "Migration status before",
        extra={
            "current": list(current),
            "heads": result.heads,
            "pending": result.pending,
            "command": command.value,
        },
    )

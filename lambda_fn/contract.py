"""The wire contract: what every caller, the workflow and the CLI read from a run's answer.

One definition of the result object's fields, its statuses, the kinds of failure and the function error a
direct invoke raises. The runtime builds results against it (`lambda_fn.result`), the state machine's
selectors and choices (`alembic_hook_cdk.workflow`) and the CLI's renderers read them through it, and the
tests assert on it. Standard library only, so the workflow's helper asset can ship this file as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypedDict, cast

# a direct invoke that failed raises this error type; its message is the result object as JSON
FUNCTION_ERROR = "MigrationFailed"


class Status(StrEnum):
    APPLIED = "applied"  # something changed (upgrade, downgrade or stamp)
    UP_TO_DATE = "up_to_date"  # nothing to do: at (or past) the target
    PENDING = "pending"  # read-only commands: revisions wait to be applied
    OK = "ok"  # read-only commands with nothing to judge (history, heads, sql)
    SKIPPED = "skipped"  # SKIP_MIGRATIONS: the database was not touched
    PARTIAL = "partial"  # a time-budgeted run stopped between revisions: `pending` is what remains
    FAILED = "failed"


# a run that reached its target: the workflow's loop ends, a pipeline's action succeeds
REACHED = frozenset({Status.APPLIED, Status.UP_TO_DATE})


class ErrorKind(StrEnum):
    # the caller's input or the function's settings are wrong: fix the request or the configuration
    CONFIGURATION = "configuration"
    BAD_REQUEST = "bad_request"
    CONFIRMATION_REQUIRED = "confirmation_required"
    BAD_REVISION = "bad_revision"
    SECRET = "secret"  # noqa: S105 - a kind of failure, not a password
    # the database could not be used
    AUTHENTICATION = "authentication"
    UNREACHABLE = "unreachable"
    TLS = "tls"
    DATABASE_MISSING = "database_missing"
    CONNECTION_LOST = "connection_lost"
    # the migration history and the database disagree: refused before any DDL
    MULTIPLE_HEADS = "multiple_heads"
    UNKNOWN_DATABASE_REVISION = "unknown_database_revision"
    # the project's env.py does not migrate the hook's database (refused before any DDL), or a step did not
    # move the hook's database (stopped at once, before the next step)
    ENV_PY = "env_py"
    MIGRATED_ELSEWHERE = "migrated_elsewhere"
    # the ledger holds a revision whose file was edited after it ran: refused before any DDL until accepted
    REVISION_CHANGED = "revision_changed"
    # contention and time
    MIGRATION_LOCKED = "migration_locked"
    # while this run held the lock, another runner (whose lock session had ended under it) moved the database
    MOVED_BY_ANOTHER_RUNNER = "moved_by_another_runner"
    LOCK_TIMEOUT = "lock_timeout"
    STATEMENT_TIMEOUT = "statement_timeout"
    DEADLINE = "deadline"
    # the safety gate: a pending revision would break the running code or lock its tables (before any DDL)
    UNSAFE_MIGRATION = "unsafe_migration"
    # a revision raised
    MIGRATION_FAILED = "migration_failed"
    INTERNAL = "internal"

    @property
    def is_configuration(self) -> bool:
        """True when re-running unchanged cannot help: the request or settings must change."""
        return self in _CONFIGURATION_KINDS


_CONFIGURATION_KINDS = frozenset(
    {
        ErrorKind.CONFIGURATION,
        ErrorKind.BAD_REQUEST,
        ErrorKind.CONFIRMATION_REQUIRED,
        ErrorKind.BAD_REVISION,
        ErrorKind.SECRET,
        ErrorKind.AUTHENTICATION,
        ErrorKind.TLS,
        ErrorKind.DATABASE_MISSING,
        ErrorKind.ENV_PY,
        ErrorKind.MIGRATED_ELSEWHERE,
        ErrorKind.REVISION_CHANGED,
        ErrorKind.UNSAFE_MIGRATION,  # the revision must change (or acknowledge the finding)
    }
)


class ErrorWire(TypedDict, total=False):
    kind: str  # an ErrorKind value
    message: str
    revision: str | None
    holder: str  # migration_locked only: the lock holder's application_name


class RevisionRunWire(TypedDict):
    revision: str
    description: str
    direction: str  # upgrade | downgrade | stamp
    duration_ms: float


class RehearsalWire(TypedDict, total=False):
    """rehearse: the copy, the policy, each revision's measurement and the verdict."""

    copy: str  # host/dbname of the copy ("" when there was nothing to rehearse)
    kind: str  # what the copy is (clone, restore, template, copy)
    target_revision: str | None
    policy: dict[str, Any]
    within_policy: bool
    violations: list[str]
    # one measurement per revision (statements, locks, row_locks, growth)
    revisions: list[dict[str, Any]]


class ResultWire(TypedDict, total=False):
    """The result object as JSON. The first group is always present; the second only when it applies."""

    command: str
    status: str  # a Status value
    target: str | None
    from_revision: str | None
    to_revision: str | None
    applied: list[RevisionRunWire]
    pending: list[str]
    heads: list[str]
    lock_wait_ms: float
    duration_ms: float
    database: str | None  # host/dbname, never credentials
    message: str
    run_id: int | None
    long_revision: str | None
    snapshot: str | None
    # present only when the command produced them
    error: ErrorWire
    history: list[dict[str, Any]]
    sql: str
    log: list[dict[str, Any]]
    env: dict[str, Any]
    findings: list[dict[str, Any]]
    lint_skipped: str
    rehearsal: RehearsalWire


# the field names, for the state machine's selectors and choices (`"$." + FIELD`)
FIELDS = tuple(ResultWire.__annotations__)


def as_result(data: Mapping[str, Any]) -> ResultWire:
    """A result object read back as JSON (a direct invoke's answer, `Result.to_dict`), typed as the contract's
    shape for its readers; not validated: every reader treats the optional fields as optional."""
    return cast(ResultWire, data)


def failed(result: Mapping[str, Any]) -> bool:
    """Whether a result object (or one database's line of a workflow's summary) says the run failed."""
    return result.get("status") == Status.FAILED


# -- the migration workflow's answer: one summary of every database's run ------------------------------------


class DatabaseRunWire(TypedDict, total=False):
    """One database's line in the summary (the workflow's Done / Failed state, compacted)."""

    id: str | None  # the target's id, or its secret's ARN
    status: str  # a Status value
    from_revision: str | None
    to_revision: str | None
    applied_count: int
    iterations: int  # invocations of the function for this database
    snapshot: str | None
    error: ErrorWire  # failed only


class FailureWire(TypedDict):
    id: str
    kind: str  # an ErrorKind value, or execution_failed when a database's execution left no result
    message: str


class SummaryWire(TypedDict, total=False):
    """The workflow's output (and, when it fails, the cause): the counts, the failures, each database's line."""

    databases: int
    applied: int
    up_to_date: int
    failed: int
    failures: list[FailureWire]
    tolerated_failure_percentage: float
    ok: bool
    message: str
    cause: str
    results: list[DatabaseRunWire]  # present when small enough to carry inline


def as_summary(data: Mapping[str, Any]) -> SummaryWire:
    """A workflow's summary read back as JSON, typed as the contract's shape; not validated."""
    return cast(SummaryWire, data)

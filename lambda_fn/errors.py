"""The one exception the engine raises, and the kinds of failure a caller can act on."""

from __future__ import annotations

from enum import StrEnum


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


class HookError(Exception):
    """A failure with a kind, a message that says what to do, the revision it concerns (if any), and for
    `migration_locked` the lock holder's application_name (callers recognise their own job by it)."""

    def __init__(self, kind: ErrorKind, message: str, revision: str | None = None, *,
                 holder: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.revision = revision
        self.holder = holder

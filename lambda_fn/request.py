"""What a caller can ask for."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError


class Command(StrEnum):
    STATUS = "status"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    STAMP = "stamp"
    CURRENT = "current"
    HEADS = "heads"
    HISTORY = "history"
    SQL = "sql"
    CHECK = "check"
    ACCEPT = "accept"  # record a deliberate edit of an applied revision in the ledger (confirmed)
    LOG = "log"  # the ledger: runs and revisions, newest first
    LINT = "lint"  # the safety gate alone: findings on the pending revisions, judged live; nothing applied
    REHEARSE = "rehearse"  # the pending revisions run and measured on a copy of the target (docs/rehearsal.md)

    @property
    def destructive(self) -> bool:
        """Commands that can lose data or lie about the schema: they name their revision and need explicit
        confirmation."""
        return self in (Command.DOWNGRADE, Command.STAMP, Command.ACCEPT)

    @classmethod
    def parse(cls, raw: object) -> Command:
        try:
            return cls(str(raw).strip().lower())
        except ValueError:
            names = ", ".join(c.value for c in cls)
            raise HookError(
                ErrorKind.BAD_REQUEST, f"Unknown command {raw!r}; use one of: {names}."
            ) from None


def is_heads(target: str | None) -> bool:
    """Whether a revision argument names every head (Alembic's `head` and `heads`; for a single-head project
    the same thing)."""
    return target in ("head", "heads")


SKIP_LINT_CONFIRMATION = "no-lint"


@dataclass(frozen=True)
class DatabaseOverride:
    """One database of a fleet: its own secret, and the host/name overrides an RDS-managed secret needs."""

    secret_arn: str
    host: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class CopyDatabase:
    """rehearse: the copy of the target to run on. A URL (the CLI), or a secret with the host/port/name of the
    copy (a clone keeps the source's users: the target's secret with the copy's endpoint). `kind` says what
    sort of copy it is (clone, restore, template), for the report."""

    url: str | None = field(default=None, repr=False)
    secret_arn: str | None = None
    host: str | None = None
    port: int | None = None
    name: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Origin:
    """Who asked, for the ledger: the caller and its own references (job id, stack and request ids, Lambda
    request id, CLI user and host). Never a credential."""

    caller: str = "unknown"
    reference: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    command: Command = Command.UPGRADE
    revision: str | None = None
    confirmed: bool = False
    origin: Origin = field(default_factory=Origin)
    limit: int | None = None  # log: how many runs
    # the escape from the safety gate: the reason (logged and kept in the result), confirmed on its own
    skip_lint: str | None = None
    skip_lint_confirmed: bool = False
    # a workflow's run: stop between revisions when the budget runs out or before a revision declared long,
    # with status `partial` instead of failing; the snapshot taken before it; the database of a fleet's item
    partial: bool = False
    budget_seconds: float | None = None
    snapshot: str | None = None
    database: DatabaseOverride | None = None
    copy: CopyDatabase | None = None  # rehearse: where to run

    def validate(self) -> None:
        if (self.command is Command.REHEARSE) != (self.copy is not None):
            raise HookError(
                ErrorKind.BAD_REQUEST,
                "rehearse runs on a copy and needs one (CLI: rehearse --on "
                'COPY_URL; Lambda: "copy": {"host": ..., "port": ..., "name": ..., "secret_arn": ...}); '
                "only rehearse takes a copy.",
            )
        if (
            self.partial or self.budget_seconds is not None
        ) and self.command is not Command.UPGRADE:
            raise HookError(
                ErrorKind.BAD_REQUEST, "A time-budgeted (partial) run applies to upgrade only."
            )
        if self.skip_lint is not None:
            if self.command is not Command.UPGRADE:
                raise HookError(
                    ErrorKind.BAD_REQUEST, "Skipping the safety gate applies to upgrade only."
                )
            if not self.skip_lint.strip():
                raise HookError(
                    ErrorKind.BAD_REQUEST,
                    "Skipping the safety gate needs a reason (it is logged and "
                    "kept in the result).",
                )
            if not self.skip_lint_confirmed:
                raise HookError(
                    ErrorKind.CONFIRMATION_REQUIRED,
                    "Upgrading without the safety gate is refused without explicit confirmation "
                    f'(CLI: --no-lint REASON --confirm-no-lint; Lambda: "no_lint": "<reason>", '
                    f'"confirm": "{SKIP_LINT_CONFIRMATION}"). Prefer acknowledging the finding in '
                    "the revision file: the reason then travels with the migration.",
                )
        if self.command.destructive and not self.revision:
            raise HookError(
                ErrorKind.BAD_REQUEST,
                f"{self.command} needs a target revision (a revision id, 'base', or a relative one like -1).",
            )
        if self.command.destructive and not self.confirmed:
            raise HookError(
                ErrorKind.CONFIRMATION_REQUIRED,
                f"{self.command} {self.revision} changes the schema or its recorded revision and is refused "
                f"without explicit confirmation. Review `sql`/`history` first, then confirm "
                f'(CLI: --yes; Lambda: "confirm": "{self.command}").',
            )

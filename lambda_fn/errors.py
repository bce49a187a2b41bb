"""The one exception the engine raises; its kinds are the wire contract's (`lambda_fn.contract.ErrorKind`)."""

from __future__ import annotations

from lambda_fn.contract import ErrorKind


class HookError(Exception):
    """A failure with a kind, a message that says what to do, the revision it concerns (if any), and for
    `migration_locked` the lock holder's application_name (callers recognise their own job by it)."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        revision: str | None = None,
        *,
        holder: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.revision = revision
        self.holder = holder

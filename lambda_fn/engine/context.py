"""What a command works with: the request, the result it fills in as it goes (so a failure still reports
how far it got), the project, the target database and the hook's connection to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lambda_fn.credentials import Credentials
from lambda_fn.engine.env_py import HookDatabase
from lambda_fn.engine.ledger import Ledger
from lambda_fn.engine.project import AlembicProject, Heads
from lambda_fn.engine.target import TargetDatabase
from lambda_fn.postgres.lock import HeldLock
from lambda_fn.request import Request
from lambda_fn.result import Result, StepEvent

Observer = Callable[[StepEvent], None]


@dataclass
class Context:
    request: Request
    result: Result
    project: AlembicProject
    target: TargetDatabase
    database: HookDatabase
    ledger: Ledger
    observe: Observer | None = None
    lock: HeldLock | None = None

    @property
    def creds(self) -> Credentials:
        return self.database.creds

    def current(self) -> Heads:
        """The revision of the hook's database, read through the hook's own connection."""
        return self.project.current(self.database.conn)


def join(heads: Heads) -> str | None:
    return ",".join(heads) if heads else None


def split(value: str | None) -> Heads:
    return tuple(value.split(",")) if value else ()


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

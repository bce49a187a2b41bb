"""What a command works with: the request, the result it fills in as it goes (so a failure still reports
how far it got), the project, and the open connection to the target database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from lambda_fn.credentials import Credentials
from lambda_fn.engine.project import AlembicProject, Heads
from lambda_fn.engine.target import TargetDatabase
from lambda_fn.request import Request
from lambda_fn.result import Result


@dataclass
class Context:
    request: Request
    result: Result
    project: AlembicProject
    target: TargetDatabase
    creds: Credentials
    conn: Connection

    def current(self) -> Heads:
        return self.project.current(self.conn)


def join(heads: Heads) -> str | None:
    return ",".join(heads) if heads else None


def split(value: str | None) -> Heads:
    return tuple(value.split(",")) if value else ()


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

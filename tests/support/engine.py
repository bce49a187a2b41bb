"""Running the engine in-process the way every caller does: environment -> Settings -> Request -> Result."""

from __future__ import annotations

from collections.abc import Mapping

from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import Deadline
from lambda_fn.engine.execute import execute
from lambda_fn.request import Command, Request
from lambda_fn.result import Result
from lambda_fn.settings import Settings


def run(
    env: Mapping[str, str],
    command: str = "upgrade",
    revision: str | None = None,
    *,
    confirmed: bool = False,
    deadline: float | None = None,
    read_secret: SecretReader | None = None,
    application_name: str | None = None,
    fast: bool = True,
) -> Result:
    return execute(
        Request(Command(command), revision, confirmed),
        Settings.from_env(env),
        deadline=Deadline(deadline),
        read_secret=read_secret,
        application_name=application_name,
        fast=fast,
    )

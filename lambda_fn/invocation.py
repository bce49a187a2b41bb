"""One invocation's execution: settings, a deadline inside the Lambda's time, the secret reader, and an
application_name that names the caller and the request.

This is the only place where the Lambda side meets the engine; sources see just `Request -> Result`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import DIRECT_REPLY_SECONDS, Deadline
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.postgres.connect import MAX_APPLICATION_NAME
from lambda_fn.request import Request
from lambda_fn.result import Result
from lambda_fn.settings import SOURCE_EXTENSION, SOURCE_SDK, Settings


def application_name(base: str, caller: str, request_id: str | None) -> str:
    """`<base>/<caller>/<request id>`, cut from the base so the id survives: pg_stat_activity then tells
    which invocation holds the migration lock (and CodePipeline re-deliveries recognise their own job)."""
    suffix = f"/{caller}/{request_id}" if request_id else f"/{caller}"
    return (base[: max(0, MAX_APPLICATION_NAME - len(suffix))] + suffix)[:MAX_APPLICATION_NAME]


@functools.cache
def secret_reader(source: str = SOURCE_SDK) -> SecretReader:
    """One reader per execution environment, so its cache spans warm invocations: Powertools over boto3, or
    (DB_SECRET_SOURCE=extension) the Parameters and Secrets extension on localhost, with no boto3 import."""
    if source == SOURCE_EXTENSION:
        from lambda_fn.aws.secrets import extension_secret_reader

        return extension_secret_reader()
    from lambda_fn.aws.secrets import powertools_secret_reader

    return powertools_secret_reader()


def preload() -> None:
    """Import the engine during Lambda's init phase, where it costs no invocation time. A failure is not
    raised here (Lambda would answer every event with an init error and no caller would be told): the
    execution meets it again and reports it through the caller's channel."""
    try:
        import lambda_fn.engine.execute  # noqa: F401
    except Exception:  # noqa: BLE001
        logger.exception("The migration engine failed to import; every invocation will report it")


class Invocation:
    """`Request -> Result` for one invocation; never raises."""

    def __init__(
        self,
        caller: str,
        request_id: str | None,
        remaining: Callable[[], float | None],
        *,
        reply_seconds: float = DIRECT_REPLY_SECONDS,
    ) -> None:
        self.caller = caller
        self.request_id = request_id
        self.remaining = remaining
        self.reply_seconds = reply_seconds

    def __call__(self, request: Request) -> Result:
        command = request.command.value
        try:
            settings = Settings.from_env()
        except HookError as exc:
            logger.error("Invalid function settings", extra={"error": exc.message})
            return Result.failure(command, exc, request.revision)
        try:
            # preloaded at init; here it only fails loudly
            from lambda_fn.engine.execute import (
                execute,
            )
        except Exception as exc:  # noqa: BLE001 - a broken bundle is reported like any failure
            logger.exception("The migration engine failed to import")
            return Result.failure(
                command,
                HookError(
                    ErrorKind.INTERNAL,
                    f"The migration engine could not be loaded ({type(exc).__name__}: "
                    f"{str(exc)[:300]}); the function's bundle is incomplete or built for another Python.",
                ),
            )
        reader: SecretReader | None = None
        if settings.secret_id:
            try:
                reader = secret_reader(settings.secret_source)
            except Exception as exc:  # noqa: BLE001 - e.g. no region configured
                return Result.failure(
                    command,
                    HookError(
                        ErrorKind.CONFIGURATION,
                        f"Cannot create the Secrets Manager client ({type(exc).__name__}: "
                        f"{str(exc)[:300]}); check AWS_REGION.",
                    ),
                )
        deadline = Deadline.for_invocation(self.remaining(), self.reply_seconds)
        return execute(
            request,
            settings,
            deadline=deadline,
            read_secret=reader,
            application_name=application_name(
                settings.application_name, self.caller, self.request_id
            ),
        )

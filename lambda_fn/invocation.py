"""One invocation's engine run: settings, a deadline inside the Lambda's time, the secret reader, and an
application_name that names the caller and the request.

This is the only place where the Lambda side meets the engine; sources see just `Request -> Result`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from lambda_fn.commands import Request
from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import Deadline
from lambda_fn.errors import ErrorKind, HookError
from lambda_fn.log import logger
from lambda_fn.result import Result
from lambda_fn.settings import Settings
from lambda_fn.sources.base import refused

# Time kept back from the engine to report the outcome (a CodePipeline call, an S3 PUT, the return):
# a tenth of what is left, at least a few seconds and at most ten.
REPORT_MARGIN_MIN = 3.0
REPORT_MARGIN_MAX = 10.0
REPORT_MARGIN_FRACTION = 0.1
MAX_APPLICATION_NAME = 63  # PostgreSQL's NAMEDATALEN - 1


def report_margin(remaining: float) -> float:
    return max(REPORT_MARGIN_MIN, min(REPORT_MARGIN_MAX, remaining * REPORT_MARGIN_FRACTION))


def deadline(remaining: float | None) -> Deadline:
    """The engine's deadline for an invocation with `remaining` seconds left (None: no Lambda clock)."""
    if remaining is None:
        return Deadline()
    return Deadline(max(0.0, remaining - report_margin(remaining)))


def application_name(base: str, caller: str, request_id: str | None) -> str:
    """`<base>/<caller>/<request id>`, cut from the base so the id survives: pg_stat_activity then tells
    which invocation holds the migration lock (and CodePipeline re-deliveries recognise their own job)."""
    suffix = f"/{caller}/{request_id}" if request_id else f"/{caller}"
    return (base[: max(0, MAX_APPLICATION_NAME - len(suffix))] + suffix)[:MAX_APPLICATION_NAME]


@functools.cache
def secret_reader() -> SecretReader:
    """One reader per execution environment: Powertools' cache then spans warm invocations."""
    from lambda_fn.credentials import powertools_secret_reader  # noqa: PLC0415 - boto3 only when a secret is used

    return powertools_secret_reader()


def preload() -> None:
    """Import the engine during Lambda's init phase, where it costs no invocation time. A failure is not
    raised here (Lambda would answer every event with an init error and no caller would be told): the run
    meets it again and reports it through the caller's channel."""
    try:
        import lambda_fn.migrator  # noqa: F401, PLC0415
    except Exception:  # noqa: BLE001
        logger.exception("The migration engine failed to import; every invocation will report it")


class EngineRunner:
    """`Request -> Result` for one invocation; never raises."""

    def __init__(self, caller: str, request_id: str | None, remaining: Callable[[], float | None]) -> None:
        self.caller = caller
        self.request_id = request_id
        self.remaining = remaining

    def __call__(self, request: Request) -> Result:
        try:
            settings = Settings.from_env()
        except HookError as exc:
            logger.error("Invalid function settings", extra={"error": exc.message})
            return refused(request.command.value, exc, request.revision)
        try:
            from lambda_fn import migrator  # noqa: PLC0415 - preloaded at init; here it only fails loudly
        except Exception as exc:  # noqa: BLE001 - a broken bundle is reported like any failure
            logger.exception("The migration engine failed to import")
            return refused(request.command.value, HookError(
                ErrorKind.INTERNAL, f"The migration engine could not be loaded ({type(exc).__name__}: "
                f"{str(exc)[:300]}); the function's bundle is incomplete or built for another Python."))
        reader: SecretReader | None = None
        if settings.env.get("DB_SECRET_ARN"):
            try:
                reader = secret_reader()
            except Exception as exc:  # noqa: BLE001 - e.g. no region configured
                return refused(request.command.value, HookError(
                    ErrorKind.CONFIGURATION, f"Cannot create the Secrets Manager client ({type(exc).__name__}: "
                    f"{str(exc)[:300]}); check AWS_REGION."))
        return migrator.run(request, settings, deadline=deadline(self.remaining()), read_secret=reader,
                            application_name=application_name(settings.application_name, self.caller,
                                                              self.request_id))

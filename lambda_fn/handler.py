"""The Lambda entry point (`lambda_fn.handler.handler`): tells the caller from the event and hands it to
that caller's module in `lambda_fn.sources`.

Each caller hears back through its own channel - CodePipeline through PutJob*Result, CloudFormation
through the ResponseURL, a direct caller through the return value or a function error - and the asynchronous
callers' invocations always return normally: an exception would only make Lambda re-deliver the event.
The event is never logged (a CodePipeline job carries artifact credentials).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_fn import invocation, telemetry
from lambda_fn.log import logger
from lambda_fn.result import Result
from lambda_fn.sources import LambdaInfo, Outcome, Source, direct, identify

# botocore at DEBUG logs request and response bodies, and a Secrets Manager response holds the password:
# never below INFO, even when AWS_LAMBDA_LOG_LEVEL=DEBUG lowers the root logger (set before this import).
for _name in ("botocore", "boto3", "urllib3"):
    if logging.getLogger(_name).getEffectiveLevel() < logging.INFO:
        logging.getLogger(_name).setLevel(logging.INFO)

invocation.preload()
_state = {"cold_start": True}  # per execution environment


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    source = identify(event)
    info = _info(context)
    correlation = source.correlation_id(event) or info.request_id or None
    logger.clear_state()
    logger.append_keys(
        caller=source.CALLER, function_request_id=info.request_id, cold_start=_state["cold_start"]
    )
    logger.set_correlation_id(correlation)
    _state["cold_start"] = False

    # the engine's deadline keeps back what this caller's reply may take (its bounded attempts)
    execute = invocation.Invocation(
        source.CALLER, correlation, _remaining(context), reply_seconds=source.REPLY_SECONDS
    )
    with telemetry.tracing.subsegment("## migrate") as annotate:
        annotate("caller", source.CALLER)
        outcome = _handle(source, event, execute, info)
        annotate("status", outcome.result.status.value)
    result = outcome.result
    (logger.info if result.ok and outcome.delivered else logger.error)(
        "Invocation finished",
        extra={
            "status": result.status.value,
            "delivered": outcome.delivered,
            "error_kind": result.error.kind.value if result.error else None,
        },
    )
    telemetry.record(source.CALLER, result, delivered=outcome.delivered)
    telemetry.flush()
    if outcome.error is not None:
        raise outcome.error
    return outcome.response


def _handle(
    source: Source, event: Any, execute: invocation.Invocation, info: LambdaInfo
) -> Outcome:
    try:
        return source.handle(event, execute, info)
    except Exception as exc:  # noqa: BLE001 - sources are written to be total; this is the last guard
        logger.exception("Unexpected failure in the event source", extra={"source": source.CALLER})
        result = Result.internal("upgrade", exc)
        if source.CALLER == direct.CALLER:
            return direct.render(result)
        return Outcome(
            result, {"status": result.status.value, "message": result.message}, delivered=False
        )


def _info(context: LambdaContext) -> LambdaInfo:
    # read defensively: a caller of the handler in a test or a custom runtime may pass less than Lambda does
    def text(name: str) -> str:
        value = getattr(context, name, None)
        return value if isinstance(value, str) else ""

    left = _remaining(context)()
    return LambdaInfo(
        request_id=text("aws_request_id"),
        log_group=text("log_group_name"),
        log_stream=text("log_stream_name"),
        ends_at=None if left is None else time.monotonic() + left,
    )


def _remaining(context: LambdaContext) -> Callable[[], float | None]:
    """Seconds the invocation has left, read when the engine starts (None without a Lambda clock)."""
    get = getattr(context, "get_remaining_time_in_millis", None)

    def remaining() -> float | None:
        if not callable(get):
            return None
        try:
            return max(0.0, float(get()) / 1000)
        except (TypeError, ValueError):
            return None

    return remaining

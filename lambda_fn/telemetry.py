"""Powertools Metrics (CloudWatch EMF on stdout: no API call, no VPC endpoint) and an optional Tracer.

Metrics, per invocation, with the caller (codepipeline | cloudformation | direct) as dimension:
Invocations, RevisionsApplied, Duration, LockWait, Failures, and ReplyFailures (the caller could not be
told: no route to CodePipeline or S3). Namespace: POWERTOOLS_METRICS_NAMESPACE, default AlembicHook.

Tracing costs nothing when off: the X-Ray SDK is not imported (Powertools' Tracer imports it on
construction, and the bundle does not ship it). It is on only inside Lambda, with the SDK present
(aws-lambda-powertools[tracer]) and POWERTOOLS_TRACE_DISABLED not set.

Telemetry never breaks a reply: every call here swallows its own failures.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambda_fn.log import logger
from lambda_fn.result import Result
from lambda_fn.settings import TRUE_WORDS

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "AlembicHook"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "alembic-hook"

metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Annotate = Callable[[str, str], None]


def record(caller: str, result: Result, *, delivered: bool) -> None:
    try:
        metrics.add_dimension(name="caller", value=caller)
        metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="RevisionsApplied", unit=MetricUnit.Count, value=len(result.applied)
        )
        metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=result.duration_ms)
        metrics.add_metric(name="LockWait", unit=MetricUnit.Milliseconds, value=result.lock_wait_ms)
        # zeros too, so an alarm on the sum sees "no failures" rather than "no data"
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=0 if result.ok else 1)
        metrics.add_metric(name="ReplyFailures", unit=MetricUnit.Count, value=0 if delivered else 1)
        metrics.add_metadata(key="command", value=result.command)
        metrics.add_metadata(key="status", value=result.status.value)
        if result.error is not None:
            metrics.add_metadata(key="error_kind", value=result.error.kind.value)
    except Exception:  # noqa: BLE001 - telemetry must not cost the caller its reply
        logger.exception("Could not record metrics")


def flush() -> None:
    try:
        metrics.flush_metrics(raise_on_empty_metrics=False)
    except Exception:  # noqa: BLE001
        logger.exception("Could not flush metrics")
    finally:
        metrics.clear_metrics()  # nothing of this invocation may leak into the next one


def tracing_wanted(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    return (
        bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
        and env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in TRUE_WORDS
        and importlib.util.find_spec("aws_xray_sdk") is not None
    )


class Tracing:
    """A subsegment per invocation when tracing is on; a no-op otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.tracer: Any = None
        if enabled:
            try:
                from aws_lambda_powertools import Tracer  # imports the X-Ray SDK

                # disabled=False: tracing_wanted() decided, and Powertools' own parsing of
                # POWERTOOLS_TRACE_DISABLED raises on an empty value. botocore only: patching http.client
                # would put the presigned ResponseURL in traces.
                self.tracer = Tracer(service=SERVICE, disabled=False, patch_modules=["botocore"])
            except Exception:  # noqa: BLE001 - no tracing is better than no function
                logger.exception(
                    "Tracing is wanted but the Tracer could not start; continuing without it"
                )

    @contextmanager
    def subsegment(self, name: str) -> Iterator[Annotate]:
        if self.tracer is None:
            yield _ignore
            return
        with ExitStack() as stack:
            try:
                sub = stack.enter_context(self.tracer.provider.in_subsegment(name))
            except Exception:  # noqa: BLE001 - e.g. no segment to attach to: run untraced
                logger.warning("Could not open a trace subsegment", exc_info=True)
                sub = None
            # the X-Ray SDK yields None when it has no segment (AWS_XRAY_CONTEXT_MISSING=IGNORE_ERROR)
            yield (
                _ignore
                if sub is None
                else (lambda key, value: _quiet(sub.put_annotation, key, value))
            )


def _ignore(key: str, value: str) -> None:
    return None


def _quiet(fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except Exception:
        logging.getLogger(__name__).debug("trace annotation failed", exc_info=True)


tracing = Tracing(tracing_wanted())

"""CodePipeline Lambda invoke action: an asynchronous event with "CodePipeline.job".

UserParameters (optional) is a JSON object: {"command": "upgrade" | "status", "revision": "<rev>"}; with
neither the action upgrades to head. The job is answered with exactly one PutJobSuccessResult (summary and
output variables for later actions) or PutJobFailureResult (ConfigurationError when the request or the
settings must change, JobFailed when the migration failed), and the function returns normally whatever
happened: an exception would only make Lambda re-deliver the event.

A second delivery of the same job (Lambda delivers asynchronous events at least once) is harmless: the
migration is idempotent (advisory lock, then "already at head"), reporting on a job that is already
reported is logged and ignored, and a delivery that finds the lock held by its own job stays silent so the
run holding it reports. No continuation token is used: one invocation does the whole job, bounded by the
function's timeout, and the engine stops before a revision it cannot finish.

The event carries artifact credentials (STS keys): it is never logged, and nothing from it but the job id
and the parameters' key names reaches a log line or a reply.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.findings import counted, listing
from lambda_fn.log import logger
from lambda_fn.request import Command, Origin, Request
from lambda_fn.result import Result
from lambda_fn.sources.base import Execute, LambdaInfo, Outcome, duration, fit

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

CALLER = "codepipeline"
COMMANDS = (Command.UPGRADE, Command.STATUS)
PARAMETER_KEYS = ("command", "revision")
SUMMARY_LIMIT = 2048  # ExecutionDetails.summary
MESSAGE_LIMIT = 5000  # FailureDetails.message
# The job was already answered (a re-delivery) or is gone (timed out, pipeline stopped): nothing to do.
ALREADY_ANSWERED = ("InvalidJobStateException", "JobNotFoundException")
# One PutJob*Result attempt: a tiny call, so short socket bounds; the attempts are this module's (botocore
# retries nothing itself), each bounded by what is left of the invocation.
CONNECT_TIMEOUT = 1.5
READ_TIMEOUT = 3.0
ATTEMPTS = 3
BACKOFF = 0.5
RETRIED = (
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
)
# What the engine's deadline keeps back for this reply (deadline.py): an attempt that hangs, the backoff and
# one more attempt.
REPLY_SECONDS = 2 * (CONNECT_TIMEOUT + READ_TIMEOUT) + BACKOFF


def matches(event: object) -> bool:
    return isinstance(event, dict) and "CodePipeline.job" in event


def correlation_id(event: object) -> str | None:
    return _job_id(event)


def handle(event: object, run: Execute, info: LambdaInfo) -> Outcome:
    job_id = _job_id(event)
    try:
        request = replace(
            parse(event),
            origin=Origin(CALLER, {"job_id": job_id or "", "lambda_request_id": info.request_id}),
        )
        # Without a job id nobody could be told the outcome: do not migrate blind.
        result = (
            run(request)
            if job_id
            else Result.failure(
                request.command.value,
                HookError(
                    ErrorKind.BAD_REQUEST,
                    'The CodePipeline event has no "CodePipeline.job".id; nothing was run.',
                ),
            )
        )
    except HookError as exc:
        result = Result.failure(Command.UPGRADE.value, exc)
    except Exception as exc:  # noqa: BLE001 - the job must still be answered
        logger.exception("Unexpected failure handling the CodePipeline job")
        result = Result.internal(Command.UPGRADE.value, exc)
    response = {"job_id": job_id, "status": result.status.value, "message": result.message}
    if job_id is None:
        logger.error("CodePipeline event without a job id: no result can be reported")
        return Outcome(result, response, delivered=False)
    if _lock_held_by_same_job(result, job_id):
        logger.warning(
            "Another delivery of this job holds the migration lock; it reports the result"
        )
        return Outcome(result, response)
    return Outcome(result, response, delivered=report(job_id, result, info))


def parse(event: object) -> Request:
    try:
        raw = CodePipelineJobEvent(event).user_parameters  # type: ignore[arg-type]  # matches() checked dict
    except (KeyError, TypeError, AttributeError):
        raise HookError(
            ErrorKind.BAD_REQUEST,
            "The CodePipeline event lacks data.actionConfiguration."
            "configuration; it does not come from a Lambda invoke action.",
        ) from None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Request(Command.UPGRADE)
    if not isinstance(raw, str):
        raise HookError(ErrorKind.BAD_REQUEST, "UserParameters is not a string.")
    try:
        params = json.loads(raw)
    except ValueError as exc:
        # the position, not the text: parameters are echoed nowhere
        raise HookError(
            ErrorKind.BAD_REQUEST,
            f"UserParameters is not valid JSON ({_json_error(exc)}); use e.g. "
            '{"revision": "head"} or {"command": "status"}.',
        ) from None
    if not isinstance(params, dict):
        raise HookError(
            ErrorKind.BAD_REQUEST,
            'UserParameters must be a JSON object such as {"revision": "head"}.',
        )
    unknown = sorted(str(k) for k in params if k not in PARAMETER_KEYS)
    if unknown:
        # a typo must not silently turn into "upgrade to head"
        raise HookError(
            ErrorKind.BAD_REQUEST,
            f"UserParameters has unknown key(s) {fit(', '.join(unknown), 200)}; "
            f"it takes {' and '.join(PARAMETER_KEYS)}.",
        )
    command = Command.parse(_text(params, "command") or Command.UPGRADE.value)
    if command not in COMMANDS:
        raise HookError(
            ErrorKind.BAD_REQUEST,
            f"A pipeline runs only {' or '.join(COMMANDS)}, not {command}; "
            "run other commands with `alembic-hook invoke`.",
        )
    return Request(command, _text(params, "revision"))


def summary(result: Result) -> str:
    took = duration(result.duration_ms)
    if result.status is Status.APPLIED:
        steps = ", ".join(f"{r.revision} ({duration(r.duration_ms)})" for r in result.applied)
        text = (
            f"Applied {len(result.applied)} revision(s), {result.from_revision or 'base'} -> "
            f"{result.to_revision or 'base'}, in {took}: {steps}."
        )
    else:
        text = f"{result.command} {result.status}: {result.message} ({took})."
    if result.lock_wait_ms >= 1000:
        text += f" Waited {duration(result.lock_wait_ms)} for the migration lock."
    if result.run_id is not None:
        text += f" Ledger run {result.run_id} (`alembic-hook log`)."
    if acknowledged := listing([f for f in result.findings or () if f.acknowledged is not None]):
        text += f" Safety gate, acknowledged: {acknowledged}"
    return fit(text, SUMMARY_LIMIT)


def output_variables(result: Result) -> dict[str, str]:
    """For later actions as #{<namespace>.<key>}. Never empty: "base" is an empty database, "unknown" a
    run that never reached it."""
    unknown = "base" if result.database else "unknown"
    return {
        "status": result.status.value,
        "from_revision": result.from_revision or unknown,
        "to_revision": result.to_revision or unknown,
        "applied_count": str(len(result.applied)),
        "run_id": str(result.run_id) if result.run_id is not None else "none",
    }


def failure_details(result: Result, info: LambdaInfo) -> dict[str, str]:
    error = result.error
    kind = error.kind if error else ErrorKind.INTERNAL
    at = f" at revision {error.revision}" if error and error.revision else ""
    text = f"Migration {result.command} failed [{kind}]{at}: {result.message or 'no reason given'}"
    if result.database:
        text += f" The database is at {result.to_revision or 'base'}."
    if where := info.where():
        text += f" Logs: {where}."
    if findings := listing(result.findings):  # the refused findings first: a cut keeps them
        text += f" {counted(result.findings)} Findings: {findings}"
    return {
        "type": "ConfigurationError" if kind.is_configuration else "JobFailed",
        "message": fit(text, MESSAGE_LIMIT),
    }


def report(job_id: str, result: Result, info: LambdaInfo) -> bool:
    """Answer the job once, retrying what may pass (a timeout, throttling, a 5xx) while the invocation has time
    for another attempt. True when CodePipeline has an answer (ours, or an earlier delivery's)."""
    from botocore.exceptions import BotoCoreError, ClientError  # boto only on this path

    for attempt in range(1, ATTEMPTS + 1):
        read = info.attempt_bound(READ_TIMEOUT + CONNECT_TIMEOUT)
        if read is None:
            logger.error(
                "No time left in the invocation for another attempt at the job result; the action fails "
                "at its own timeout",
                extra={"attempt": attempt, "status": result.status.value},
            )
            return False
        try:
            _put_result(
                _client()
                if read >= READ_TIMEOUT + CONNECT_TIMEOUT
                else _client(min(CONNECT_TIMEOUT, read / 2), read / 2),
                job_id,
                result,
                info,
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ALREADY_ANSWERED:
                logger.warning(
                    "The job is already answered or gone; nothing more to report",
                    extra={"error_code": code, "status": result.status.value},
                )
                return True
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            logger.error(
                "CodePipeline refused the job result",
                extra={"error_code": code, "attempt": attempt, "error": fit(str(exc), 500)},
            )
            if code not in RETRIED and status < 500:
                return False
        except (BotoCoreError, ValueError) as exc:
            # no route to CodePipeline (or a hung reply): say why here; the next attempt may pass
            logger.error(
                "Could not reach CodePipeline to report the job result; check the VPC has a route to the "
                "codepipeline endpoint (NAT or interface endpoint)",
                extra={"attempt": attempt, "error": fit(f"{type(exc).__name__}: {exc}", 500)},
            )
            if isinstance(exc, ValueError):
                return False
        else:
            logger.info(
                "Reported the job result to CodePipeline", extra={"status": result.status.value}
            )
            return True
        if attempt < ATTEMPTS:
            # backoff, not synchronisation
            time.sleep(min(BACKOFF * attempt, max(0.0, info.reply_time())))
    return False


def _put_result(client: CodePipelineClient, job_id: str, result: Result, info: LambdaInfo) -> None:
    if result.ok:
        details: dict[str, Any] = {"summary": summary(result)}
        if info.request_id:
            details["externalExecutionId"] = fit(info.request_id, 1500)
        client.put_job_success_result(
            jobId=job_id,
            executionDetails=details,  # type: ignore[arg-type]
            outputVariables=output_variables(result),
        )
    else:
        client.put_job_failure_result(jobId=job_id, failureDetails=failure_details(result, info))  # type: ignore[arg-type]


@functools.cache
def _client(connect: float = CONNECT_TIMEOUT, read: float = READ_TIMEOUT) -> CodePipelineClient:
    """One client per execution environment (and per tighter bound, for a last attempt near the end), with
    no retries of botocore's own: `report` retries, within the invocation's time."""
    import boto3

    from lambda_fn.aws.config import bounded_config

    return boto3.client(
        "codepipeline",
        config=bounded_config(
            connect_timeout=connect,
            read_timeout=read,
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )


def _job_id(event: object) -> str | None:
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    job_id = job.get("id") if isinstance(job, dict) else None
    return job_id.strip() if isinstance(job_id, str) and job_id.strip() else None


def _lock_held_by_same_job(result: Result, job_id: str) -> bool:
    """The lock holder's application_name carries the job id (see invocation.py): the holder is another
    delivery of this very job, which will report."""
    error = result.error
    return (
        error is not None
        and error.kind is ErrorKind.MIGRATION_LOCKED
        and error.holder is not None
        and error.holder.endswith(f"/{job_id}")
    )


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise HookError(ErrorKind.BAD_REQUEST, f'UserParameters "{key}" must be a string.')
    return value.strip() or None


def _json_error(exc: ValueError) -> str:
    return f"at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "unreadable"

"""CloudFormation custom resource whose ServiceToken is this function: "RequestType" and "ResponseURL".

- Create and Update upgrade to the `TargetRevision` property (default head). An Update naming a revision
  the database has already passed - what a stack rollback sends - finds nothing to apply and succeeds
  without touching the schema: CloudFormation never downgrades.
- Delete succeeds at once, without settings, credentials or the database.
- Every request gets exactly one response PUT to ResponseURL, whatever failed (bad settings, a malformed
  request, a bug), within 4096 bytes; otherwise the stack waits for the resource's ServiceTimeout (an hour
  by default). The PhysicalResourceId never changes, so an Update never reads as a replacement.
- `Data` (Fn::GetAtt): FromRevision, ToRevision, AppliedCount, Status - all strings, as properties are.

The ResponseURL is a presigned S3 URL (a credential for the response): it is never logged.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from lambda_fn.aws import cfn_response
from lambda_fn.aws.cfn_response import ECHOED, PUT_BACKOFF, PUT_TIMEOUT
from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.findings import counted, listing
from lambda_fn.log import logger
from lambda_fn.request import Command, Origin, Request
from lambda_fn.result import Result
from lambda_fn.sources.base import Execute, LambdaInfo, Outcome

CALLER = "cloudformation"
PHYSICAL_ID_SUFFIX = "-migrations"
MAX_PHYSICAL_ID = 1024
# What the engine's deadline keeps back for this reply (deadline.py): an attempt that hangs, the backoff and
# one more attempt. Further attempts get only what is left of the invocation.
REPLY_SECONDS = 2 * PUT_TIMEOUT + PUT_BACKOFF
# the bounds of this caller's reply (lambda_fn/aws/cfn_response.py), as callers and tests read them
MAX_BODY = cfn_response.MAX_BODY
PUT_ATTEMPTS = cfn_response.PUT_ATTEMPTS


def matches(event: object) -> bool:
    return isinstance(event, dict) and "RequestType" in event and "ResponseURL" in event


def correlation_id(event: object) -> str | None:
    value = event.get("RequestId") if isinstance(event, dict) else None
    return value if isinstance(value, str) and value else None


def handle(event: object, run: Execute, info: LambdaInfo) -> Outcome:
    assert isinstance(event, dict)  # matches() holds
    url = event.get("ResponseURL")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        # Nobody could be told the outcome: do not migrate blind.
        logger.error(
            "ResponseURL is not an http(s) URL: nothing was run and no response can be sent"
        )
        result = Result.failure(
            Command.UPGRADE.value,
            HookError(ErrorKind.BAD_REQUEST, "ResponseURL is not an http(s) URL."),
        )
        return Outcome(result, {"Status": "FAILED", "Reason": result.message}, delivered=False)
    origin = Origin(
        CALLER,
        {
            "stack_id": _echo(event.get("StackId")),
            "logical_resource_id": _echo(event.get("LogicalResourceId")),
            "request_id": _echo(event.get("RequestId")),
            "lambda_request_id": info.request_id,
        },
    )
    try:
        result = _decide(CloudFormationCustomResourceEvent(event), run, origin)
    except Exception as exc:  # noqa: BLE001 - the stack must still get its response
        logger.exception("Unexpected failure handling the custom resource request")
        result = Result.internal(Command.UPGRADE.value, exc)
    body = response_body(event, result, info)
    return Outcome(result, json.loads(body), delivered=put_response(url, body, info))


def _decide(request: CloudFormationCustomResourceEvent, run: Execute, origin: Origin) -> Result:
    kind = request.request_type
    if kind == "Delete":
        # Deleting the resource (or the stack) never drops the schema, and must not fail on settings
        # that may be gone already: nothing is read, nothing is touched.
        return Result(
            command=Command.UPGRADE.value,
            status=Status.SKIPPED,
            message="Delete: the schema is left as it is.",
        )
    if kind not in ("Create", "Update"):
        return Result.failure(
            Command.UPGRADE.value,
            HookError(
                ErrorKind.BAD_REQUEST,
                f"Unknown RequestType {str(kind)[:40]!r}; expected Create, Update or Delete.",
            ),
        )
    try:
        target = target_revision(request.resource_properties)
    except HookError as exc:
        return Result.failure(Command.UPGRADE.value, exc)
    return run(Request(Command.UPGRADE, target, origin=origin))


def target_revision(properties: object) -> str:
    """TargetRevision, as CloudFormation sends it (a string); absent or empty means head."""
    if properties is None:
        return "head"
    if not isinstance(properties, dict):
        raise HookError(ErrorKind.BAD_REQUEST, "ResourceProperties is not an object.")
    value = properties.get("TargetRevision")
    if value is None:
        return "head"
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise HookError(
            ErrorKind.BAD_REQUEST, "TargetRevision must be a string (a revision id or head)."
        )
    return value.strip() or "head"


def physical_resource_id(event: dict[str, Any]) -> str:
    """The incoming id on Update and Delete; on Create one derived from the logical id alone, so every
    response of the resource's life carries the same id."""
    incoming = event.get("PhysicalResourceId")
    if isinstance(incoming, str) and incoming.strip() and event.get("RequestType") != "Create":
        return incoming[:MAX_PHYSICAL_ID]
    logical = event.get("LogicalResourceId")
    base = logical if isinstance(logical, str) and logical else "database"
    return base[: MAX_PHYSICAL_ID - len(PHYSICAL_ID_SUFFIX)] + PHYSICAL_ID_SUFFIX


def response_body(event: dict[str, Any], result: Result, info: LambdaInfo) -> bytes:
    """The response JSON, within MAX_BODY bytes (`cfn_response.fit`: the Reason gives way first, then Data,
    then the echoed ids)."""
    body: dict[str, Any] = {
        "Status": "SUCCESS" if result.ok else "FAILED",
        "Reason": "",
        "PhysicalResourceId": physical_resource_id(event),
        **{key: _echo(event.get(key)) for key in ECHOED},
        "NoEcho": False,
        "Data": {
            "FromRevision": result.from_revision or "",
            "ToRevision": result.to_revision or "",
            "AppliedCount": str(len(result.applied)),
            "RunId": str(result.run_id) if result.run_id is not None else "",
            "Status": result.status.value,
        },
    }
    return cfn_response.fit(body, _reason(result, info))


def _reason(result: Result, info: LambdaInfo) -> str:
    """The message, the log location, then the safety gate's findings (refused, then acknowledged): the
    Reason is cut from its end to fit, so what matters most comes first."""
    findings = listing(result.findings)
    if result.ok:
        return result.message + (f" Safety gate, acknowledged: {findings}" if findings else "")
    kind = result.error.kind if result.error else ErrorKind.INTERNAL
    text = f"[{kind}] {result.message or 'no reason given'}"
    if where := info.where():
        text += f" Logs: {where}."
    if findings:
        text += f" {counted(result.findings)} Findings: {findings}"
    return text


def _echo(value: object) -> str:
    """Copied verbatim, as CloudFormation matches the response by them; a malformed value becomes a string."""
    return value if isinstance(value, str) else ""


def put_response(url: str, body: bytes, info: LambdaInfo | None = None) -> bool:
    """PUT with short timeouts and a few attempts, none of them past the invocation's end (`info`); a 4xx
    (an expired or altered presigned URL) is final."""
    info = info or LambdaInfo()
    return cfn_response.put(
        url, body, log=logger, attempt_bound=info.attempt_bound, time_left=info.reply_time
    )

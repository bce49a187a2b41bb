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
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.findings import counted, listing
from lambda_fn.log import logger
from lambda_fn.request import Command, Origin, Request
from lambda_fn.result import Result
from lambda_fn.sources.base import Execute, LambdaInfo, Outcome

CALLER = "cloudformation"
MAX_BODY = 4096           # CloudFormation rejects larger responses
PHYSICAL_ID_SUFFIX = "-migrations"
MAX_PHYSICAL_ID = 1024
PUT_ATTEMPTS = 3
PUT_TIMEOUT = 3.0         # seconds per socket operation: S3 answers in milliseconds when it is reachable at all
PUT_BACKOFF = 0.5         # seconds before the second attempt (then twice that)
# What the engine's deadline keeps back for this reply (deadline.py): an attempt that hangs, the backoff and
# one more attempt. Further attempts get only what is left of the invocation.
REPLY_SECONDS = 2 * PUT_TIMEOUT + PUT_BACKOFF
ECHOED = ("StackId", "RequestId", "LogicalResourceId")


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
        logger.error("ResponseURL is not an http(s) URL: nothing was run and no response can be sent")
        result = Result.failure(Command.UPGRADE.value,
                                HookError(ErrorKind.BAD_REQUEST, "ResponseURL is not an http(s) URL."))
        return Outcome(result, {"Status": "FAILED", "Reason": result.message}, delivered=False)
    origin = Origin(CALLER, {"stack_id": _echo(event.get("StackId")),
                             "logical_resource_id": _echo(event.get("LogicalResourceId")),
                             "request_id": _echo(event.get("RequestId")), "lambda_request_id": info.request_id})
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
        return Result(command=Command.UPGRADE.value, status=Status.SKIPPED,
                      message="Delete: the schema is left as it is.")
    if kind not in ("Create", "Update"):
        return Result.failure(Command.UPGRADE.value, HookError(
            ErrorKind.BAD_REQUEST, f"Unknown RequestType {str(kind)[:40]!r}; expected Create, Update or Delete."))
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
        raise HookError(ErrorKind.BAD_REQUEST, "TargetRevision must be a string (a revision id or head).")
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
    """The response JSON, within MAX_BODY bytes: the Reason gives way first, then Data, then the echoed ids
    (which only a malformed request makes long)."""
    status = "SUCCESS" if result.ok else "FAILED"
    body: dict[str, Any] = {
        "Status": status,
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
    reason = _reason(result, info)
    encoded = _fit_reason(body, reason)
    if encoded is None:
        body["Data"] = {k: v[:64] for k, v in body["Data"].items()}
        encoded = _fit_reason(body, reason)
    if encoded is None:
        for key in (*ECHOED, "PhysicalResourceId"):
            body[key] = body[key][:256]
        encoded = _fit_reason(body, reason) or _encode({**body, "Reason": ""})
    return encoded


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


def _fit_reason(body: dict[str, Any], reason: str) -> bytes | None:
    """The body with as much of the reason as fits, or None when even an empty reason does not."""
    if len(_encode({**body, "Reason": ""})) > MAX_BODY:
        return None
    full = _encode({**body, "Reason": reason})
    if len(full) <= MAX_BODY:
        return full
    low, high = 0, len(reason)  # longest prefix that fits; escapes make bytes != characters
    while low < high:
        mid = (low + high + 1) // 2
        if len(_encode({**body, "Reason": reason[:mid] + "..."})) <= MAX_BODY:
            low = mid
        else:
            high = mid - 1
    return _encode({**body, "Reason": reason[:low] + "..."})


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _echo(value: object) -> str:
    """Copied verbatim, as CloudFormation matches the response by them; a malformed value becomes a string."""
    return value if isinstance(value, str) else ""


def put_response(url: str, body: bytes, info: LambdaInfo | None = None) -> bool:
    """PUT with short timeouts and a few attempts, none of them past the invocation's end (`info`); a 4xx
    (an expired or altered presigned URL) is final."""
    host = urlsplit(url).hostname if url.startswith(("http://", "https://")) else None
    if host is None:
        logger.error("ResponseURL is not an http(s) URL: no response can be sent")
        return False
    info = info or LambdaInfo()
    for attempt in range(1, PUT_ATTEMPTS + 1):
        timeout = info.attempt_bound(PUT_TIMEOUT)
        if timeout is None:
            logger.error("No time left in the invocation for another attempt at the custom resource response",
                         extra={"attempt": attempt, "response_host": host})
            break
        # content-type "" : the presigned URL was signed without one
        request = urllib.request.Request(url, data=body, method="PUT",  # noqa: S310 - http(s) checked above
                                         headers={"Content-Type": "", "Content-Length": str(len(body))})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 - http(s) checked
                logger.info("Sent the custom resource response", extra={"http_status": reply.status,
                                                                         "response_host": host})
                return True
        except urllib.error.HTTPError as exc:
            final = exc.code < 500
            error = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, malformed URLs
            final = isinstance(exc, ValueError)
            error = type(exc).__name__ + (f": {exc.reason}" if isinstance(exc, urllib.error.URLError) else "")
        logger.warning("Could not send the custom resource response",
                       extra={"attempt": attempt, "error": error[:300], "response_host": host})
        if final:
            break
        if attempt < PUT_ATTEMPTS:
            time.sleep(min(PUT_BACKOFF * attempt, max(0.0, info.reply_time())))  # backoff, not synchronisation
    logger.error("Gave up sending the custom resource response; the stack waits for the resource's "
                 "ServiceTimeout. Check the VPC reaches S3 (gateway endpoint or NAT).", extra={"response_host": host})
    return False

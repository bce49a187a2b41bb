"""The one answer to a CloudFormation custom resource: the response body within CloudFormation's 4096 bytes,
and its PUT to the presigned ResponseURL, for the hook's own custom resource (`lambda_fn/sources/
cloudformation.py`) and the workflow's deploy gate (the helper, `infra/alembic_hook_cdk/workflow/runtime/`).

Standard library only, so the helper's asset ships this file as it is. One truncation rule: the Reason gives
way first (cut from its end, marked "..."), then the Data values, then the echoed ids (which only a malformed
request makes long). One retry rule: a few short attempts, none past the time the caller has left, a 4xx (an
expired or altered presigned URL) final. The ResponseURL is a credential for the response: never logged.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

MAX_BODY = 4096  # CloudFormation rejects larger responses
ECHOED = ("StackId", "RequestId", "LogicalResourceId")
DATA_CUT = 64  # each Data value, when the body does not fit with them whole
ID_CUT = 256  # each echoed id, when it does not fit even so
PUT_ATTEMPTS = 3
PUT_TIMEOUT = (
    3.0  # seconds per socket operation: S3 answers in milliseconds when it is reachable at all
)
PUT_BACKOFF = 0.5  # seconds before the second attempt (then twice that)


class Log(Protocol):
    """What the PUT logs through (the runtime's Powertools logger, the helper's standard one)."""

    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


def fit(body: dict[str, Any], reason: str) -> bytes:
    """``body`` (Status, PhysicalResourceId, the echoed ids, NoEcho, Data: strings) with ``reason`` as its
    Reason, encoded within MAX_BODY bytes."""
    body = {**body, "Data": dict(body.get("Data") or {})}
    encoded = _fit_reason(body, reason)
    if encoded is None:
        body["Data"] = {k: v[:DATA_CUT] for k, v in body["Data"].items()}
        encoded = _fit_reason(body, reason)
    if encoded is None:
        for key in (*ECHOED, "PhysicalResourceId"):
            body[key] = body[key][:ID_CUT]
        encoded = _fit_reason(body, reason) or _encode({**body, "Reason": ""})
    return encoded


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


def _unbounded(wanted: float) -> float | None:
    return wanted


def put(
    url: str,
    body: bytes,
    *,
    log: Log,
    attempt_bound: Callable[[float], float | None] = _unbounded,
    time_left: Callable[[], float] = lambda: math.inf,
) -> bool:
    """PUT with short timeouts and a few attempts. ``attempt_bound(wanted)``: one attempt's timeout, cut to
    the time left (None: too late to try); ``time_left()``: seconds the backoff may still take."""
    host = urlsplit(url).hostname if url.startswith(("http://", "https://")) else None
    if host is None:
        log.error("ResponseURL is not an http(s) URL: no response can be sent")
        return False
    for attempt in range(1, PUT_ATTEMPTS + 1):
        timeout = attempt_bound(PUT_TIMEOUT)
        if timeout is None:
            log.error(
                "No time left in the invocation for another attempt at the custom resource response",
                extra={"attempt": attempt, "response_host": host},
            )
            break
        # content-type "" : the presigned URL was signed without one
        request = urllib.request.Request(  # noqa: S310 - http(s) checked above
            url,
            data=body,
            method="PUT",
            headers={"Content-Type": "", "Content-Length": str(len(body))},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 - http(s) checked
                log.info(
                    "Sent the custom resource response",
                    extra={"http_status": reply.status, "response_host": host},
                )
                return True
        except urllib.error.HTTPError as exc:
            final = exc.code < 500
            error = f"HTTP {exc.code}"
        except (
            OSError,
            ValueError,
        ) as exc:  # URLError, timeouts, refused connections, malformed URLs
            final = isinstance(exc, ValueError)
            error = type(exc).__name__ + (
                f": {exc.reason}" if isinstance(exc, urllib.error.URLError) else ""
            )
        log.warning(
            "Could not send the custom resource response",
            extra={"attempt": attempt, "error": error[:300], "response_host": host},
        )
        if final:
            break
        if attempt < PUT_ATTEMPTS:
            # backoff, not synchronisation
            time.sleep(min(PUT_BACKOFF * attempt, max(0.0, time_left())))
    log.error(
        "Gave up sending the custom resource response; the stack waits for the resource's "
        "ServiceTimeout. Check the VPC reaches S3 (gateway endpoint or NAT).",
        extra={"response_host": host},
    )
    return False

"""The CodePipeline job-result endpoint moto lacks: PutJobSuccessResult / PutJobFailureResult, in JSON 1.1
and in Smithy RPC v2 CBOR, with the service's validation and its one-result-per-job rule."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.support.cbor import cbor_decode, cbor_encode
from tests.support.http_server import FakeHttpServer, Request, Response


@dataclass(frozen=True)
class JobResult:
    operation: str  # PutJobSuccessResult | PutJobFailureResult
    params: dict[str, Any]
    error: str | None = None  # the exception the service answered with, if any

    @property
    def accepted(self) -> bool:
        return self.error is None


# The limits the service enforces (botocore checks only minimum lengths on the client).
_LIMITS = (
    ("executionDetails", "summary", 2048),
    ("executionDetails", "externalExecutionId", 1500),
    ("failureDetails", "message", 5000),
    ("failureDetails", "externalExecutionId", 1500),
)
_FAILURE_TYPES = {
    "JobFailed",
    "ConfigurationError",
    "PermissionError",
    "RevisionOutOfSync",
    "RevisionUnavailable",
    "SystemUnavailable",
}
_VARIABLE_KEY = re.compile(r"[A-Za-z0-9@\-_]+")


def validate_job_result(operation: str, params: dict[str, Any]) -> str | None:
    """Why CodePipeline would answer ValidationException, or None."""
    for parent, key, limit in _LIMITS:
        value = params.get(parent, {}).get(key)
        if value is not None and not 1 <= len(value) <= limit:
            return f"{parent}.{key} must be 1..{limit} characters, got {len(value)}"
    if (
        operation == "PutJobFailureResult"
        and params.get("failureDetails", {}).get("type") not in _FAILURE_TYPES
    ):
        return "failureDetails.type is not a known failure type"
    variables = params.get("outputVariables") or {}
    if any(not _VARIABLE_KEY.fullmatch(k) for k in variables):
        return "an output variable name does not match [A-Za-z0-9@\\-_]+"
    if sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items()) > 122_880:
        return "output variables exceed 122880 bytes"
    return None


class CodePipelineRecorder:
    """PutJobSuccessResult / PutJobFailureResult with the service's semantics that matter here: a job takes
    one result; a second one gets InvalidJobStateException. Speaks both protocols botocore may use for
    CodePipeline: JSON 1.1 (X-Amz-Target) and, since botocore 1.40, Smithy RPC v2 CBOR."""

    def __init__(self) -> None:
        self.results: dict[str, list[JobResult]] = {}
        self.arrivals: list[float] = []  # time.time() of each job result recorded
        self.hung = 0  # calls held without an answer (see hang_once)
        self._hang = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.server = FakeHttpServer({"POST": self._post})

    def hang_once(self) -> None:
        """The next call is held unanswered (and not recorded) until close(): a reply that hangs."""
        with self._lock:
            self._hang += 1

    def _post(self, request: Request) -> Response:
        with self._lock:
            hang, self._hang = self._hang > 0, max(0, self._hang - 1)
            self.hung += hang
        if hang:
            self._released.wait(120)  # the client gives up long before; the test's end releases it
            return Response(503)
        cbor = request.headers.get("smithy-protocol") == "rpc-v2-cbor"
        if cbor:
            operation = request.path.rstrip("/").rsplit("/", 1)[-1]
            params = cbor_decode(request.body) if request.body else {}
        else:
            operation = (request.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
            params = json.loads(request.body or b"{}")
        if operation not in ("PutJobSuccessResult", "PutJobFailureResult"):
            return _answer(400, {"__type": "UnknownOperationException", "message": operation}, cbor)
        error = self._record(operation, params)
        if error is None:
            return _answer(200, {}, cbor)
        return _answer(
            400, {"__type": error, "message": "rejected by the local CodePipeline"}, cbor
        )

    @property
    def url(self) -> str:
        return self.server.url

    def _record(self, operation: str, params: dict[str, Any]) -> str | None:
        job_id = str(params.get("jobId"))
        invalid = validate_job_result(operation, params)
        with self._lock:
            seen = self.results.setdefault(job_id, [])
            if invalid is not None:
                error: str | None = "ValidationException"
            elif any(r.accepted for r in seen):
                error = "InvalidJobStateException"  # a job takes one result
            else:
                error = None
            seen.append(JobResult(operation, params, error))
            self.arrivals.append(time.time())
        return error

    def for_job(self, job_id: str) -> list[JobResult]:
        with self._lock:
            return list(self.results.get(job_id, []))

    def close(self) -> None:
        self._released.set()
        self.server.close()


def _answer(status: int, payload: dict[str, Any], cbor: bool) -> Response:
    if cbor:
        headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    else:
        headers = {"Content-Type": "application/x-amz-json-1.1"}
    data = cbor_encode(payload) if cbor else json.dumps(payload).encode()
    return Response(status, data, {**headers, "x-amzn-RequestId": str(uuid.uuid4())})

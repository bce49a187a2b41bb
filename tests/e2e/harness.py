"""The Lambda service, played locally: a Lambda Runtime API server that the real runtime client
(`python -m awslambdaric lambda_fn.handler.handler`) polls, the bundle's layout to run it from, and the
two reply channels moto lacks: a CodePipeline job-result endpoint and a CloudFormation ResponseURL.

Everything waits on queues with timeouts; nothing sleeps to synchronise. Also used by
benchmarks/lambda_bench.py, so the benchmark measures exactly what the tests exercise.
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.bundling import read_heads

REPO = Path(__file__).resolve().parents[2]
RUNTIME_PREFIX = "/2018-06-01/runtime"
FUNCTION_NAME = "alembic-hook-e2e"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
HANDLER = "lambda_fn.handler.handler"


# --- the bundle's layout ----------------------------------------------------------------------------------

# What the asset ships (infra/bundling.py: the locked runtime dependencies, boto3 excepted) and what the
# Lambda Python runtime provides itself (boto3, the runtime interface client).
BUNDLED = ("alembic", "sqlalchemy", "pg8000", "aws-lambda-powertools")
RUNTIME_PROVIDED = ("boto3", "awslambdaric")


@dataclass(frozen=True)
class Bundle:
    task_root: Path      # /var/task: lambda_fn/, migrations/ (with alembic.ini), the bundled packages
    runtime_root: Path   # /var/runtime and the runtime's site-packages: boto3, awslambdaric

    def command(self, python: str = sys.executable, handler: str = HANDLER) -> list[str]:
        # -S: no site-packages of this venv, so only what the bundle and the runtime hold can be imported
        return [python, "-S", "-m", "awslambdaric", handler]

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join((str(self.task_root), str(self.runtime_root)))


def build_bundle(root: Path, *, bytecode: bool = True) -> Bundle:
    """The asset's layout, built offline from this venv's installed distributions: lambda_fn/, the Alembic
    scripts as migrations/ with alembic.ini inside, and the runtime dependencies at the root, compiled
    like the bundler compiles them (unchecked-hash: /var/task is read-only, bytecode is never written
    there at run time). A dependency the bundle lacks fails here exactly as it would on Lambda."""
    task, runtime = root / "task", root / "runtime"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
    shutil.copytree(REPO / "lambda_fn", task / "lambda_fn", ignore=ignore)
    shutil.copytree(REPO / "alembic", task / "migrations", ignore=ignore)
    shutil.copyfile(REPO / "alembic.ini", task / "migrations" / "alembic.ini")
    # the heads manifest the bundler writes, so "already at head" imports no revision (lambda_fn/heads_index.py)
    read_heads(REPO, task / "migrations" / "alembic.ini", task / "migrations", write=True)
    bundled = _closure(BUNDLED)
    for dist in bundled.values():
        _copy_distribution(dist, task)
    for name, dist in _closure(RUNTIME_PROVIDED).items():
        if name not in bundled:
            _copy_distribution(dist, runtime)
    if bytecode:
        for directory in (task, runtime):
            subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode",
                            "unchecked-hash", str(directory)], check=True, capture_output=True)
    return Bundle(task, runtime)


def _closure(names: tuple[str, ...]) -> dict[str, Any]:
    """Installed distributions of `names` and everything they require here (markers evaluated)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found: dict[str, Any] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        dist = metadata.distribution(name)
        found[key] = dist
        for raw in dist.requires or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def _copy_distribution(dist: Any, target: Path) -> None:
    for file in dist.files or []:
        source = Path(str(file.locate()))
        if "__pycache__" in file.parts or file.parts[0] == ".." or not source.is_file():
            continue  # console scripts live outside site-packages; bytecode is compiled afresh
        destination = target / Path(*file.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def lambda_env(bundle: Bundle, runtime_api: str, **extra: str) -> dict[str, str]:
    """The environment Lambda gives the function, with fake credentials; nothing from this process."""
    task_root = bundle.task_root
    env = {
        "PYTHONPATH": bundle.pythonpath,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]e2e",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "ALEMBIC_CONFIG": "migrations/alembic.ini",
        "ALEMBIC_SCRIPT_LOCATION": "migrations",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


# --- the Lambda Runtime API -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    request_id: str
    kind: str           # "response" | "error" | "exited"
    body: Any           # the decoded JSON body (or the exit code for "exited")
    error_type: str = ""

    @property
    def error(self) -> dict[str, Any]:
        assert self.kind == "error", f"expected a function error, got {self.kind}: {self.body}"
        assert isinstance(self.body, dict)
        return self.body


class RuntimeApi:
    """GET /next hands out queued events (with the deadline and ARN headers); POST response/error records
    the answer for the invocation that is waiting on it."""

    def __init__(self) -> None:
        self._events: queue.Queue[tuple[str, bytes, int] | None] = queue.Queue()
        self._waiting: dict[str, queue.Queue[Reply]] = {}
        self._lock = threading.Lock()
        self.init_errors: list[dict[str, Any]] = []
        # The runtime asks for the next event only after the handler returned and its answer was posted:
        # every line the invocation wrote is in the pipes by then.
        self._polls = 0
        self._polled = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{RUNTIME_PREFIX}/invocation/next":
                    self._reply(404)
                    return
                with api._polled:
                    api._polls += 1
                    api._polled.notify_all()
                item = api._events.get()
                if item is None:  # shutting down
                    self._reply(500)
                    return
                request_id, body, deadline_ms = item
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.removeprefix(RUNTIME_PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_errors.append(_json(body))
                    api._finish_all("error", _json(body), self.headers.get("Lambda-Runtime-Function-Error-Type", ""))
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    api._finish(Reply(parts[1], parts[2], _json(body),
                                      self.headers.get("Lambda-Runtime-Function-Error-Type", "")))
                else:
                    self._reply(404)
                    return
                self._reply(202)

            def _reply(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def submit(self, event: Any, *, timeout_ms: int = 60_000) -> tuple[str, queue.Queue[Reply]]:
        request_id = str(uuid.uuid4())
        waiter: queue.Queue[Reply] = queue.Queue()
        with self._lock:
            self._waiting[request_id] = waiter
        deadline_ms = int(time.time() * 1000) + timeout_ms
        self._events.put((request_id, json.dumps(event).encode(), deadline_ms))
        return request_id, waiter

    def invoke(self, event: Any, *, timeout_ms: int = 60_000, wait: float = 120.0) -> Reply:
        """One synchronous invocation: queue the event, wait for the runtime's answer."""
        request_id, waiter = self.submit(event, timeout_ms=timeout_ms)
        try:
            return waiter.get(timeout=wait)
        except queue.Empty:
            raise TimeoutError(f"no answer to invocation {request_id} within {wait} s") from None

    def wait_for_polls(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until the runtime has asked for the next event `count` times (True), or it stopped asking."""
        with self._polled:
            return self._polled.wait_for(lambda: self._polls >= count, timeout=timeout)

    def process_exited(self, code: int) -> None:
        self._finish_all("exited", code)

    def close(self) -> None:
        self._events.put(None)
        self.server.shutdown()
        self.server.server_close()

    def _finish(self, reply: Reply) -> None:
        with self._lock:
            waiter = self._waiting.pop(reply.request_id, None)
        if waiter is not None:
            waiter.put(reply)

    def _finish_all(self, kind: str, body: Any, error_type: str = "") -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for request_id, waiter in waiting.items():
            waiter.put(Reply(request_id, kind, body, error_type))


class LambdaProcess:
    """`python -m awslambdaric lambda_fn.handler.handler` from a bundle's task root, its output captured."""

    def __init__(self, api: RuntimeApi, bundle: Bundle, env: Mapping[str, str],
                 python: str = sys.executable, handler: str = HANDLER) -> None:
        self.api = api
        self.started = time.perf_counter()
        self.process = subprocess.Popen(bundle.command(python, handler), cwd=bundle.task_root, env=dict(env),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out = {"stdout": bytearray(), "stderr": bytearray()}
        self._out_lock = threading.Lock()
        self._pipes = {"stdout": self.process.stdout, "stderr": self.process.stderr}
        for pipe in self._pipes.values():
            os.set_blocking(pipe.fileno(), False)  # type: ignore[union-attr]
        # a background drain keeps the pipes from filling (a blocked writer would never answer)
        self._reader = threading.Thread(target=self._drain_loop, daemon=True)
        self._reader.start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _drain_loop(self) -> None:
        streams = [p for p in self._pipes.values() if p is not None]
        while self.process.poll() is None:
            select.select(streams, [], [], 0.2)
            self.drain()
        self.drain()

    def drain(self) -> None:
        """Read everything the process has written so far (under the lock, so a caller that drains after
        the runtime's next poll sees every line of the invocations before it)."""
        with self._out_lock:
            for name, pipe in self._pipes.items():
                while True:
                    try:
                        chunk = os.read(pipe.fileno(), 65536)  # type: ignore[union-attr]
                    except BlockingIOError:
                        break
                    except OSError:
                        break
                    if not chunk:
                        break
                    self._out[name] += chunk

    def _watch(self) -> None:
        self.api.process_exited(self.process.wait())

    @property
    def output(self) -> str:
        """stdout, then stderr, so far."""
        self.drain()
        with self._out_lock:
            return (self._out["stdout"] + self._out["stderr"]).decode(errors="replace")

    def log_records(self) -> Iterator[dict[str, Any]]:
        """The JSON lines of the output (Powertools logs and EMF metrics)."""
        for line in self.output.splitlines():
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        return self.output


# --- the reply channels moto lacks ------------------------------------------------------------------------

@dataclass(frozen=True)
class JobResult:
    operation: str               # PutJobSuccessResult | PutJobFailureResult
    params: dict[str, Any]
    error: str | None = None     # the exception the service answered with, if any

    @property
    def accepted(self) -> bool:
        return self.error is None


# The limits the service enforces (botocore checks only minimum lengths on the client).
_LIMITS = (("executionDetails", "summary", 2048), ("executionDetails", "externalExecutionId", 1500),
           ("failureDetails", "message", 5000), ("failureDetails", "externalExecutionId", 1500))
_FAILURE_TYPES = {"JobFailed", "ConfigurationError", "PermissionError", "RevisionOutOfSync", "RevisionUnavailable",
                  "SystemUnavailable"}
_VARIABLE_KEY = re.compile(r"[A-Za-z0-9@\-_]+")


def validate_job_result(operation: str, params: dict[str, Any]) -> str | None:
    """Why CodePipeline would answer ValidationException, or None."""
    for parent, key, limit in _LIMITS:
        value = params.get(parent, {}).get(key)
        if value is not None and not 1 <= len(value) <= limit:
            return f"{parent}.{key} must be 1..{limit} characters, got {len(value)}"
    if operation == "PutJobFailureResult" and params.get("failureDetails", {}).get("type") not in _FAILURE_TYPES:
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
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                cbor = self.headers.get("smithy-protocol") == "rpc-v2-cbor"
                if cbor:
                    operation = self.path.rstrip("/").rsplit("/", 1)[-1]
                    params = cbor_decode(body) if body else {}
                else:
                    operation = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                    params = json.loads(body or b"{}")
                if operation not in ("PutJobSuccessResult", "PutJobFailureResult"):
                    self._send(400, {"__type": "UnknownOperationException", "message": operation}, cbor)
                    return
                error = recorder._record(operation, params)
                if error is None:
                    self._send(200, {}, cbor)
                else:
                    self._send(400, {"__type": error, "message": "rejected by the local CodePipeline"}, cbor)

            def _send(self, status: int, payload: dict[str, Any], cbor: bool) -> None:
                data = cbor_encode(payload) if cbor else json.dumps(payload).encode()
                self.send_response(status)
                if cbor:
                    self.send_header("smithy-protocol", "rpc-v2-cbor")
                    self.send_header("Content-Type", "application/cbor")
                else:
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

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
        return error

    def for_job(self, job_id: str) -> list[JobResult]:
        with self._lock:
            return list(self.results.get(job_id, []))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class ResponseRecorder:
    """A stand-in for the presigned S3 URL CloudFormation hands out: records every PUT, by path."""

    puts: dict[str, list[tuple[dict[str, str], bytes]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder._lock:
                    recorder.puts.setdefault(self.path, []).append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def new_url(self) -> str:
        """A fresh URL that looks like the real one (a query string carrying a signature)."""
        host, port = self.server.server_address[:2]
        token = uuid.uuid4().hex
        return f"http://{host!s}:{port}/cfn/{token}?X-Amz-Signature=sig{token}&X-Amz-Expires=7200"

    def responses(self, url: str) -> list[dict[str, Any]]:
        path = "/" + url.split("/", 3)[3]
        with self._lock:
            return [json.loads(body) for _headers, body in self.puts.get(path, [])]

    def raw(self, url: str) -> list[tuple[dict[str, str], bytes]]:
        path = "/" + url.split("/", 3)[3]
        with self._lock:
            return list(self.puts.get(path, []))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- events as the services send them ---------------------------------------------------------------------

def codepipeline_event(job_id: str, user_parameters: str | None = None, *, secret_access_key: str | None = None,
                       session_token: str | None = None) -> dict[str, Any]:
    configuration: dict[str, Any] = {"FunctionName": FUNCTION_NAME}
    if user_parameters is not None:
        configuration["UserParameters"] = user_parameters
    artifact = {"name": "SourceArtifact", "revision": "1a2b3c",
                "location": {"type": "S3", "s3Location": {"bucketName": "artifacts", "objectKey": "src.zip"}}}
    return {"CodePipeline.job": {
        "id": job_id,
        "accountId": "123456789012",
        "data": {
            "actionConfiguration": {"configuration": configuration},
            "inputArtifacts": [artifact],
            "outputArtifacts": [],
            "artifactCredentials": {"accessKeyId": "ASIAARTIFACTKEY",
                                    "secretAccessKey": secret_access_key or uuid.uuid4().hex,
                                    "sessionToken": session_token or uuid.uuid4().hex,
                                    "expirationTime": 1795310689000},
        },
    }}


def cloudformation_event(request_type: str, response_url: str, *, properties: dict[str, str] | None = None,
                         old_properties: dict[str, str] | None = None,
                         physical_id: str | None = None) -> dict[str, Any]:
    props = {"ServiceToken": FUNCTION_ARN, **(properties or {})}
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/app/6c2ad3a0-0000-11f0-0000-0a1b2c3d4e5f",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "RunMigrations",
        "ResourceType": "Custom::DbMigrations",
        "ResourceProperties": props,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {"ServiceToken": FUNCTION_ARN, **old_properties}
    return event


# --- a minimal CBOR codec (RFC 8949), enough for the job-result calls -------------------------------------

def cbor_decode(data: bytes) -> Any:
    value, end = _cbor_item(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after the CBOR item")
    return value


def _cbor_item(data: bytes, pos: int) -> tuple[Any, int]:  # noqa: PLR0911, PLR0912 - one branch per major type
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if major == 7:
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info], pos
        import struct

        sizes = {25: (2, ">e"), 26: (4, ">f"), 27: (8, ">d")}
        size, fmt = sizes[info]
        return struct.unpack(fmt, data[pos:pos + size])[0], pos + size
    if info == 31:  # indefinite length (strings, arrays, maps)
        items: list[Any] = []
        while data[pos] != 0xFF:
            item, pos = _cbor_item(data, pos)
            items.append(item)
        pos += 1
        if major in (2, 3):
            return (b"" if major == 2 else "").join(items), pos
        if major == 4:
            return items, pos
        return dict(zip(items[::2], items[1::2], strict=True)), pos
    if info < 24:
        length = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        length, pos = int.from_bytes(data[pos:pos + size], "big"), pos + size
    if major == 0:
        return length, pos
    if major == 1:
        return -1 - length, pos
    if major == 2:
        return data[pos:pos + length], pos + length
    if major == 3:
        return data[pos:pos + length].decode(), pos + length
    if major == 4:
        out = []
        for _ in range(length):
            item, pos = _cbor_item(data, pos)
            out.append(item)
        return out, pos
    if major == 5:
        mapping = {}
        for _ in range(length):
            key, pos = _cbor_item(data, pos)
            mapping[key], pos = _cbor_item(data, pos)
        return mapping, pos
    # major 6: a tag (e.g. a timestamp); the tagged value is what matters here
    return _cbor_item(data, pos)


def cbor_encode(value: Any) -> bytes:
    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | info]) + length.to_bytes(size, "big")
        raise ValueError("too long")

    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, bool) or value is None:
        return bytes([0xF5 if value is True else 0xF4 if value is False else 0xF6])
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor_encode(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor_encode(k) + cbor_encode(v) for k, v in value.items())
    raise TypeError(f"cannot encode {type(value).__name__}")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode(errors="replace")

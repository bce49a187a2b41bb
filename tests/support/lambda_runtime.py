"""The Lambda service, played locally for one function: the environment it gives the function, a Runtime
API server that the real runtime client (`python -m awslambdaric lambda_fn.handler.handler`) polls, the
runtime process run from a bundle's task root, and the two together as one execution environment.

Everything waits on queues with timeouts; nothing sleeps to synchronise. Also used by
benchmarks/lambda_bench.py, so the benchmark measures exactly what the tests exercise.
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.bundle_layout import HANDLER, Bundle
from tests.support.http_server import FakeHttpServer, Request, Response

RUNTIME_PREFIX = "/2018-06-01/runtime"
FUNCTION_NAME = "alembic-hook-e2e"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"


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
    kind: str  # "response" | "error" | "exited"
    body: Any  # the decoded JSON body (or the exit code for "exited")
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
        self.server = FakeHttpServer({"GET": self._next, "POST": self._answer})

    def _next(self, request: Request) -> Response:
        if request.path != f"{RUNTIME_PREFIX}/invocation/next":
            return Response(404)
        with self._polled:
            self._polls += 1
            self._polled.notify_all()
        item = self._events.get()
        if item is None:  # shutting down
            return Response(500)
        request_id, body, deadline_ms = item
        return Response(
            200,
            body,
            {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                "Content-Type": "application/json",
            },
        )

    def _answer(self, request: Request) -> Response:
        parts = request.path.removeprefix(RUNTIME_PREFIX).strip("/").split("/")
        error_type = request.headers.get("Lambda-Runtime-Function-Error-Type", "")
        if parts == ["init", "error"]:
            self.init_errors.append(_json(request.body))
            self._finish_all("error", _json(request.body), error_type)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self._finish(Reply(parts[1], parts[2], _json(request.body), error_type))
        else:
            return Response(404)
        return Response(202)

    @property
    def address(self) -> str:
        return self.server.address

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
        self.server.close()

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

    def __init__(
        self,
        api: RuntimeApi,
        bundle: Bundle,
        env: Mapping[str, str],
        python: str = sys.executable,
        handler: str = HANDLER,
    ) -> None:
        self.api = api
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            bundle.command(python, handler),
            cwd=bundle.task_root,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._out = {"stdout": bytearray(), "stderr": bytearray()}
        self._out_lock = threading.Lock()
        assert self.process.stdout is not None and self.process.stderr is not None  # both PIPE
        self._pipes = {"stdout": self.process.stdout, "stderr": self.process.stderr}
        for pipe in self._pipes.values():
            os.set_blocking(pipe.fileno(), False)
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
                        chunk = os.read(pipe.fileno(), 65536)
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


# --- one execution environment ----------------------------------------------------------------------------


@dataclass
class Function:
    """One execution environment: a runtime process and the Runtime API it polls."""

    api: RuntimeApi
    process: LambdaProcess
    sensitive: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)

    def invoke(self, event: Any, *, timeout_ms: int = 60_000) -> Reply:
        reply = self.api.invoke(event, timeout_ms=timeout_ms)
        assert reply.kind != "exited", (
            f"the runtime process exited ({reply.body}):\n{self.process.output}"
        )
        self.replies.append(reply)
        # the runtime's next poll means this invocation's output is all written: read it before returning
        self.api.wait_for_polls(len(self.replies) + 1)
        self.process.drain()
        return reply

    @property
    def output(self) -> str:
        return self.process.output

    def records(self, message: str) -> list[dict[str, Any]]:
        return [r for r in self.process.log_records() if r.get("message") == message]

    def metrics(self) -> list[dict[str, Any]]:
        return [r for r in self.process.log_records() if "_aws" in r]


StartFunction = Callable[..., Function]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode(errors="replace")

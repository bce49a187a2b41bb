"""The Lambda Invoke API, played locally for several functions (``AWS_ENDPOINT_URL_LAMBDA``): what moto's Step
Functions interpreter reaches for a Lambda task, and what runs the REAL handlers behind it.

A function is served by one of two backends:

* ``InProcess(handler)``: the handler called in the request's thread with a ``FakeContext``, serialised by a lock
  when ``serial`` (the hook's handler must be: Alembic's module-level context is not thread-safe, and Lambda
  never runs two invocations in one execution environment either);
* ``RuntimePool(start, size)``: up to ``size`` execution environments, each the real ``awslambdaric`` runtime
  client in its own process polling its own Runtime API (``tests/support/lambda_runtime.py``), started on
  demand and reused warm, as Lambda scales a function out to its concurrency.

The answer is what Lambda's Invoke gives: the payload, or ``X-Amz-Function-Error: Unhandled`` with the runtime's
``{"errorType", "errorMessage"}``. ``lose_answer(function, n)`` (or ``lose_first_answer(function, when)``) plays
Lambda's own failure after the n-th (or the first matching) invocation of a function has run (HTTP 500
ServiceException): the work is done, the answer lost, and the caller (Step Functions' Retry) tries again.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

from tests.support.http_server import FakeHttpServer, Request, Response
from tests.support.inprocess import FakeContext
from tests.support.lambda_runtime import Function


class Backend(Protocol):
    def invoke(self, payload: Any) -> tuple[bool, Any]:
        """(ok, body): the handler's return value, or the runtime's error object."""
        ...


@dataclass
class InProcess:
    handler: Callable[[Any, Any], Any]
    serial: bool = True
    timeout_ms: int = 60_000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, payload: Any) -> tuple[bool, Any]:
        with self.lock if self.serial else _nothing():
            try:
                return True, self.handler(payload, FakeContext(remaining_ms=self.timeout_ms))
            except Exception as exc:  # what the runtime client reports for an unhandled exception
                return False, {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": [],
                }


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


class RuntimePool:
    """Up to ``size`` runtime processes; an invocation takes an idle one or starts one."""

    def __init__(
        self, start: Callable[[], Function], size: int, *, timeout_ms: int = 60_000
    ) -> None:
        self._start = start
        self.size = size
        self.timeout_ms = timeout_ms
        self._idle: queue.Queue[Function] = queue.Queue()
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self.started: list[Function] = []

    def warm(self, count: int, event: Any = None) -> None:
        """Start ``count`` environments now, each through its init and, given ``event``, one invocation of it
        (a benchmark's cold starts and first-use imports out of its timings)."""
        for _ in range(count):
            function = self._new()
            function.api.wait_for_polls(1, timeout=60)
            if event is not None:
                function.invoke(event, timeout_ms=self.timeout_ms)
            self._idle.put(function)

    def _new(self) -> Function:
        function = self._start()
        with self._lock:
            self.started.append(function)
        return function

    def invoke(self, payload: Any) -> tuple[bool, Any]:
        with self._slots:
            try:
                function = self._idle.get_nowait()
            except queue.Empty:
                function = self._new()
            try:
                reply = function.invoke(payload, timeout_ms=self.timeout_ms)
            finally:
                self._idle.put(function)
        return reply.kind == "response", reply.body

    def close(self) -> str:
        output = ""
        for function in self.started:
            output += function.process.stop()
            function.api.close()
        return output


@dataclass(frozen=True)
class Invocation:
    function: str
    number: int  # of this function, from 1
    payload: Any
    ok: bool
    answer: Any
    lost: bool
    started: float
    finished: float


class LambdaService:
    """``POST /2015-03-31/functions/{name or ARN}/invocations`` for the functions added."""

    def __init__(self) -> None:
        self.functions: dict[str, Backend] = {}
        self.invocations: list[Invocation] = []
        self._lost: dict[str, set[int]] = {}
        self._lose_when: dict[str, Callable[[int, Any], bool]] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.active = 0
        self.max_active: dict[str, int] = {}
        self._active: dict[str, int] = {}
        self.server = FakeHttpServer({"POST": self._invoke})

    @property
    def url(self) -> str:
        return self.server.url

    def add(self, name: str, backend: Backend) -> None:
        self.functions[name] = backend

    def lose_answer(self, function: str, number: int) -> None:
        self._lost.setdefault(function, set()).add(number)

    def lose_first_answer(self, function: str, when: Callable[[int, Any], bool]) -> None:
        """Lose the answer of the first invocation for which `when(number, answer)` holds (a test that needs
        the lost invocation to have done something waits for it, whatever the machine's load)."""
        self._lose_when[function] = when

    def calls(self, function: str) -> list[Invocation]:
        with self._lock:
            return [i for i in self.invocations if i.function == function]

    def _invoke(self, request: Request) -> Response:
        target = unquote(request.path.split("/functions/", 1)[1].split("/invocations", 1)[0])
        name = target.split(":function:", 1)[1] if ":function:" in target else target
        name = name.split(":", 1)[0]  # an alias or version qualifier names the same function here
        backend = self.functions.get(name)
        if backend is None:
            return Response.json(
                404,
                {"Type": "User", "Message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        payload = json.loads(request.body or b"null")
        with self._lock:
            number = self._counts[name] = self._counts.get(name, 0) + 1
            self._active[name] = self._active.get(name, 0) + 1
            self.max_active[name] = max(self.max_active.get(name, 0), self._active[name])
        started = time.monotonic()
        try:
            ok, answer = backend.invoke(payload)
        finally:
            with self._lock:
                self._active[name] -= 1
        with self._lock:
            when = self._lose_when.get(name)
            lost = number in self._lost.get(name, set()) or (
                when is not None and when(number, answer)
            )
            if lost and when is not None:
                del self._lose_when[name]  # the first one only
            self.invocations.append(
                Invocation(name, number, payload, ok, answer, lost, started, time.monotonic())
            )
        if lost:
            return Response.json(
                500,
                {"Type": "Service", "Message": "Lambda lost the answer (test fault)"},
                {"x-amzn-ErrorType": "ServiceException"},
            )
        headers = {} if ok else {"X-Amz-Function-Error": "Unhandled"}
        return Response.json(200, answer, headers)

    def close(self) -> None:
        self.server.close()

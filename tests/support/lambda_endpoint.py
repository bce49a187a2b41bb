"""A local Lambda API endpoint for the CLI's `invoke`: GetFunctionConfiguration and Invoke, answering what
the test sets."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_server import FakeHttpServer, Request, Response


@dataclass
class FakeLambda:
    """GetFunctionConfiguration and Invoke, answering what the test sets."""

    timeout: int = 30
    configuration_status: int = 200
    invoke_status: int = 200
    body: Any = field(default_factory=dict)
    function_error: str | None = None
    hold: threading.Event | None = None  # when set, Invoke answers only once this is set
    invocations: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = FakeHttpServer({"GET": self._configuration, "POST": self._invoke})

    def _configuration(self, request: Request) -> Response:
        if self.configuration_status != 200:
            return Response.json(
                self.configuration_status,
                {"Type": "User", "Message": "not allowed"},
                {"x-amzn-ErrorType": "AccessDeniedException"},
            )
        return Response.json(200, {"FunctionName": "fn", "Timeout": self.timeout})

    def _invoke(self, request: Request) -> Response:
        payload = json.loads(request.body)
        self.invocations.append(
            {
                "path": request.path,
                "payload": payload,
                "type": request.headers.get("X-Amz-Invocation-Type"),
            }
        )
        if self.hold is not None:
            self.hold.wait(timeout=30)
        headers = {"X-Amz-Function-Error": self.function_error} if self.function_error else {}
        if self.invoke_status != 200:
            headers = {"x-amzn-ErrorType": "ServiceException"}
        # a client that gave up gets nothing
        return Response.json(self.invoke_status, self.body, headers)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.close()

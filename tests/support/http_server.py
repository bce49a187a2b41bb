"""The one fake HTTP server every local endpoint is built on: 127.0.0.1 on a free port, a thread per request,
one function per HTTP method (any other method gets 501, as http.server answers it). The Lambda Runtime
API, the CodePipeline and CloudFormation reply channels and the Lambda Invoke endpoint are each a handful
of such functions."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string
    headers: Message  # case-insensitive get(); items() as the client sent them
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # Content-Length is always added

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(payload).encode(),
            {**(headers or {}), "Content-Type": "application/json"},
        )


Route = Callable[[Request], Response]


class FakeHttpServer:
    """Serves `routes` ({"GET": fn, "POST": fn, ...}) until close(). A route may block (a long poll, a held
    answer): each request has its own thread."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        def serve(handler: BaseHTTPRequestHandler) -> None:
            body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
            response = routes[handler.command](
                Request(handler.command, handler.path, handler.headers, body)
            )
            # the client may have given up waiting (as it should, on a timeout): nothing left to answer
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                handler.send_response(response.status)
                for key, value in response.headers.items():
                    handler.send_header(key, value)
                handler.send_header("Content-Length", str(len(response.body)))
                handler.end_headers()
                handler.wfile.write(response.body)

        def quiet(handler: BaseHTTPRequestHandler, format: str, *args: Any) -> None:
            pass

        methods: dict[str, Any] = {f"do_{method}": serve for method in routes}
        handler_class = type(
            "Handler", (BaseHTTPRequestHandler,), {**methods, "log_message": quiet}
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        """host:port"""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

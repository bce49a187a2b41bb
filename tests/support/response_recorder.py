"""The CloudFormation ResponseURL moto lacks: a stand-in for the presigned S3 URL a custom resource answers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_server import FakeHttpServer, Request, Response


@dataclass
class ResponseRecorder:
    """Records every PUT, by path, and answers it with `status` (200: accepted, as S3 does; 403: an expired
    URL; 5xx: S3 in trouble)."""

    status: int = 200
    puts: dict[str, list[tuple[dict[str, str], bytes]]] = field(default_factory=dict)
    arrivals: list[float] = field(default_factory=list)  # time.time() of each recorded PUT
    hung: int = 0  # PUTs held without an answer (see hang_once)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._hang = 0
        self._released = threading.Event()
        self.server = FakeHttpServer({"PUT": self._put})

    def hang_once(self) -> None:
        """The next PUT is held unanswered (and not recorded) until close(): a reply that hangs."""
        with self._lock:
            self._hang += 1

    def _put(self, request: Request) -> Response:
        with self._lock:
            hang, self._hang = self._hang > 0, max(0, self._hang - 1)
            if hang:
                self.hung += 1
            else:
                self.puts.setdefault(request.path, []).append(
                    (dict(request.headers.items()), request.body)
                )
                self.arrivals.append(time.time())
        if hang:
            self._released.wait(120)  # the client gives up long before; the test's end releases it
            return Response(503)
        return Response(self.status)

    def new_url(self) -> str:
        """A fresh URL that looks like the real one (a query string carrying a signature)."""
        token = uuid.uuid4().hex
        return f"{self.server.url}/cfn/{token}?X-Amz-Signature=sig{token}&X-Amz-Expires=7200"

    def responses(self, url: str) -> list[dict[str, Any]]:
        path = "/" + url.split("/", 3)[3]
        with self._lock:
            return [json.loads(body) for _headers, body in self.puts.get(path, [])]

    def raw(self, url: str) -> list[tuple[dict[str, str], bytes]]:
        path = "/" + url.split("/", 3)[3]
        with self._lock:
            return list(self.puts.get(path, []))

    def close(self) -> None:
        self._released.set()
        self.server.close()

"""The CloudFormation ResponseURL moto lacks: a stand-in for the presigned S3 URL a custom resource answers."""

from __future__ import annotations

import json
import threading
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

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server = FakeHttpServer({"PUT": self._put})

    def _put(self, request: Request) -> Response:
        with self._lock:
            self.puts.setdefault(request.path, []).append((dict(request.headers.items()), request.body))
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
        self.server.close()

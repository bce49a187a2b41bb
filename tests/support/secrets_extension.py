"""The AWS Parameters and Secrets Lambda Extension's Secrets Manager endpoint, played locally.

On Lambda the extension is a layer that listens on localhost (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, 2773 by
default) and answers `GET /secretsmanager/get?secretId=<id>` with the GetSecretValue reply as JSON, after
checking the `X-Aws-Parameters-Secrets-Token` header against the function's AWS_SESSION_TOKEN; it caches each
secret (SECRETS_MANAGER_TTL, 300 s by default). Here the values come from `lookup` (a dict, or moto through
`from_secrets_manager`); `pin` plays a cache still holding a value Secrets Manager no longer has (after a
rotation); `fault` replaces every answer (an error status, a hang).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.http_server import FakeHttpServer, Request, Response

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
SESSION_TOKEN = "testing"  # what tests.support.lambda_runtime.lambda_env gives the function

Lookup = Callable[[str], str | None]


class SecretsExtension:
    def __init__(self, lookup: Lookup | dict[str, str], *, token: str = SESSION_TOKEN) -> None:
        self._lookup: Lookup = lookup.get if isinstance(lookup, dict) else lookup
        self.token = token
        self.requests: list[Request] = []
        self.pinned: dict[str, str] = {}
        self.fault: Callable[[Request], Response] | None = None
        self.server = FakeHttpServer({"GET": self._get})

    @property
    def port(self) -> str:
        return self.server.address.rsplit(":", 1)[1]

    def env(self) -> dict[str, str]:
        """What the function's environment needs to read through this extension."""
        return {
            "DB_SECRET_SOURCE": "extension",
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": self.port,
        }

    def reset(self) -> None:
        """Forget requests, pins and faults (one server for several tests: closing one takes 0.5 s)."""
        self.requests.clear()
        self.pinned.clear()
        self.fault = None

    def pin(self, secret_id: str, value: str) -> None:
        self.pinned[secret_id] = value

    def close(self) -> None:
        self.server.close()

    def _get(self, request: Request) -> Response:
        self.requests.append(request)
        if self.fault is not None:
            return self.fault(request)
        url = urlsplit(request.path)
        if url.path != "/secretsmanager/get":
            return Response(404, b"not found")
        if request.headers.get(TOKEN_HEADER) != self.token:
            return Response(401, b"missing or invalid X-Aws-Parameters-Secrets-Token header")
        (secret_id,) = parse_qs(url.query).get("secretId") or [""]
        value = self.pinned.get(secret_id) or self._lookup(secret_id)
        if value is None:
            return Response(
                400,
                f"ResourceNotFoundException: Secrets Manager can't find the specified secret "
                f"{secret_id}".encode(),
            )
        return Response.json(
            200,
            {
                "ARN": secret_id,
                "Name": secret_id,
                "SecretString": value,
                "VersionId": "00000000-0000-0000-0000-000000000001",
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": datetime.now(UTC).isoformat(),
            },
        )


def from_secrets_manager(client: Any) -> Lookup:
    """Values read from Secrets Manager (moto) with `client`, as the extension reads them on a cache miss."""

    def lookup(secret_id: str) -> str | None:
        try:
            return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
        except client.exceptions.ResourceNotFoundException:
            return None

    return lookup


def hang(seconds: float) -> Callable[[Request], Response]:
    """A fault: answer only after `seconds` (longer than the reader waits)."""

    def answer(request: Request) -> Response:
        time.sleep(seconds)
        return Response(200, b"{}")

    return answer

"""Connections to the target database: TLS, a client-side socket timeout, and the server-side bounds
sent in the startup packet (so they are the session's defaults, which a migration's RESET returns to)."""

from __future__ import annotations

import math
from typing import Any

import pg8000.native

from lambda_fn.credentials import Credentials
from lambda_fn.postgres.errors import classify
from lambda_fn.postgres.tls import ssl_context

PROBE_TIMEOUT = 5.0  # one connection attempt while waiting for the database
SOCKET_SLACK = 30.0  # client-side read timeout beyond the server-side statement timeout
MAX_APPLICATION_NAME = 63  # PostgreSQL's NAMEDATALEN - 1


def milliseconds(seconds: float) -> str:
    """A PostgreSQL duration setting; never 0, which would mean "no limit"."""
    return f"{max(1, int(seconds * 1000))}ms"


def session_bounds(*, lock_timeout: float, statement_timeout: float) -> dict[str, str]:
    return {"lock_timeout": milliseconds(lock_timeout), "statement_timeout": milliseconds(statement_timeout)}


def connect_kwargs(creds: Credentials, *, timeout: float, application_name: str,
                   startup: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "user": creds.username, "password": creds.password, "host": creds.host, "port": creds.port,
        "database": creds.database, "ssl_context": ssl_context(creds),
        "timeout": None if math.isinf(timeout) else timeout,
        "application_name": application_name[:MAX_APPLICATION_NAME],
        "startup_params": startup or {},
    }


def open_native(creds: Credentials, *, timeout: float, application_name: str,
                startup: dict[str, str] | None = None) -> pg8000.native.Connection:
    """A pg8000 native connection, or a classified HookError."""
    try:
        return pg8000.native.Connection(**connect_kwargs(creds, timeout=timeout, application_name=application_name,
                                                         startup=startup))
    except Exception as exc:  # noqa: BLE001 - classified, re-raised as HookError
        raise classify(exc, creds, connecting=True) from None

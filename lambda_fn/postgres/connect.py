"""Connections to the target database: TLS, a client-side socket timeout, and the server-side bounds
sent in the startup packet (so they are the session's defaults, which a migration's RESET returns to).

The bounds make PostgreSQL itself end a hook session whose runner went silent (a frozen sandbox, a killed
process, a partition): `idle_in_transaction_session_timeout` frees the table locks of a transaction nobody
drives any more, `transaction_timeout` (PostgreSQL 17) bounds a transaction outright, `idle_session_timeout`
(PostgreSQL 14) ends a session nobody talks to, and TCP keepalives / `tcp_user_timeout` notice a dead peer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pg8000.native

from lambda_fn.credentials import Credentials
from lambda_fn.postgres import sessions
from lambda_fn.postgres.errors import classify
from lambda_fn.postgres.tls import ssl_context

PROBE_TIMEOUT = 5.0  # one connection attempt while waiting for the database
SOCKET_SLACK = 30.0  # client-side read timeout beyond the server-side statement timeout
MAX_APPLICATION_NAME = 63  # PostgreSQL's NAMEDATALEN - 1
# A dead peer is noticed within about 30 s: probes after 10 s idle, every 5 s, 3 of them; unacknowledged
# data gives up after 30 s. Ignored on Unix sockets.
KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "30000",
}
IDLE_SESSION_SINCE = 14
TRANSACTION_TIMEOUT_SINCE = 17


def milliseconds(seconds: float) -> str:
    """A PostgreSQL duration setting; never 0, which would mean "no limit"."""
    return f"{max(1, int(seconds * 1000))}ms"


@dataclass(frozen=True)
class SessionBounds:
    """What PostgreSQL enforces on one hook session, whatever its client does. `None`: not set."""

    lock_timeout: float | None = None
    statement_timeout: float | None = None
    idle_in_transaction: float | None = None
    idle_session: float | None = None
    transaction: float | None = None

    def startup(self, server_major: int) -> dict[str, str]:
        """Startup parameters for a server of this major version (a setting an older server does not know
        would refuse the connection)."""
        params = dict(KEEPALIVES)
        for name, seconds, since in (
            ("lock_timeout", self.lock_timeout, 0),
            ("statement_timeout", self.statement_timeout, 0),
            ("idle_in_transaction_session_timeout", self.idle_in_transaction, 0),
            ("idle_session_timeout", self.idle_session, IDLE_SESSION_SINCE),
            ("transaction_timeout", self.transaction, TRANSACTION_TIMEOUT_SINCE),
        ):
            if seconds is not None and not math.isinf(seconds) and server_major >= since:
                params[name] = milliseconds(seconds)
        return params


def server_major(conn: pg8000.native.Connection) -> int:
    version = str(conn.parameter_statuses.get("server_version", "0"))
    try:
        return int(version.split(".", maxsplit=1)[0].split(maxsplit=1)[0])
    except ValueError:
        return 0


def connect_kwargs(
    creds: Credentials,
    *,
    timeout: float,
    application_name: str,
    startup: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "user": creds.username,
        "password": creds.password,
        "host": creds.host,
        "port": creds.port,
        "database": creds.database,
        "ssl_context": ssl_context(creds.sslmode, creds.sslrootcert),
        "timeout": None if math.isinf(timeout) else timeout,
        "application_name": application_name[:MAX_APPLICATION_NAME],
        "startup_params": startup or {},
    }


def open_native(
    creds: Credentials,
    *,
    timeout: float,
    application_name: str,
    startup: dict[str, str] | None = None,
) -> pg8000.native.Connection:
    """A pg8000 native connection, or a classified HookError."""
    try:
        conn = pg8000.native.Connection(
            **connect_kwargs(
                creds, timeout=timeout, application_name=application_name, startup=startup
            )
        )
    except Exception as exc:  # noqa: BLE001 - classified, re-raised as HookError
        raise classify(exc, creds, connecting=True) from None
    sessions.register(conn, creds, application_name)  # a watched run's watchdog can end it
    return conn

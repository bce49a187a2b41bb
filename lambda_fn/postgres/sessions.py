"""The database sessions one watched run opened, so a watchdog in another thread can end them.

Every hook connection (pg8000 native or DB-API, see `connect.py` and `dialect.py`) registers here while a
`Sessions` is current (a context variable: set only in the run's own thread). Once the run is `fence`d - its
time is up and its caller is being answered - a new connection of that run is refused, and the open ones can
be cut (their sockets shut down: PostgreSQL then rolls back the open transaction, as no COMMIT can follow)
and terminated from a fresh connection (`pg_terminate_backend`), which confirms the backends are gone.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import Credentials
from lambda_fn.errors import HookError


@dataclass(frozen=True)
class Session:
    pid: int
    creds: Credentials
    application_name: str
    conn: Any  # the pg8000 connection (native or DB-API): its socket is what `cut` shuts down


class Sessions:
    """The sessions of one run; thread-safe (the run registers, the watchdog fences and cuts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Session] = []
        self.fenced = False

    def add(self, conn: Any, creds: Credentials, application_name: str) -> None:
        """Register a new connection; on a fenced run close it and refuse."""
        with self._lock:
            if not self.fenced:
                self._open.append(Session(backend_pid(conn), creds, application_name, conn))
                return
        with contextlib.suppress(Exception):
            conn.close()
        raise HookError(
            ErrorKind.DEADLINE,
            "This run's time is up and its caller has been answered; it opens no "
            "more database sessions.",
        )

    def fence(self) -> list[Session]:
        """No new session from now on; the ones opened so far."""
        with self._lock:
            self.fenced = True
            return list(self._open)


_current: ContextVar[Sessions | None] = ContextVar("alembic_hook_sessions", default=None)


def current() -> Sessions | None:
    return _current.get()


def watch(sessions: Sessions) -> None:
    """Register this context's connections in `sessions` (called in the run's own thread)."""
    _current.set(sessions)


def register(conn: Any, creds: Credentials, application_name: str) -> None:
    if (sessions := _current.get()) is not None:
        sessions.add(conn, creds, application_name)


def backend_pid(conn: Any) -> int:
    """The server process of a pg8000 connection, from its BackendKeyData (no round trip)."""
    data = getattr(conn, "_backend_key_data", None)
    return (
        int(struct.unpack("!i", data[:4])[0])
        if isinstance(data, bytes | bytearray) and len(data) >= 4
        else 0
    )


def cut(session: Session) -> None:
    """Shut the session's socket from this thread: the client can send nothing more (no COMMIT), and the
    server ends the session, rolling its transaction back, as soon as it reads the end of the stream."""
    sock = getattr(session.conn, "_usock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

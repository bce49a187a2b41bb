"""One runner at a time: a session-level advisory lock on a dedicated connection.

Polling `pg_try_advisory_lock` (never a blocking `pg_advisory_lock`) keeps the wait bounded and cannot
deadlock with CREATE INDEX CONCURRENTLY, which waits for every open transaction. The lock lives on its own
autocommit connection so that it survives the migration connection's commits, and PostgreSQL drops it
when that connection ends, even after a crash.

A runner that goes silent must not keep the lock: the lock session carries `idle_session_timeout`, and a
heartbeat thread keeps it busy while the runner is alive. When the process freezes or dies, the heartbeat
stops and PostgreSQL ends the session within the bound, which frees the lock. A runner that wakes up after
that finds its lock gone (`HeldLock.ensure_held`) and stops before its next revision.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pg8000.native

from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import Credentials
from lambda_fn.deadline import Backoff, Deadline
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.postgres.connect import PROBE_TIMEOUT, SessionBounds, open_native
from lambda_fn.postgres.errors import classify


def lock_key(name: str) -> int:
    """A stable signed 64-bit key. Advisory locks are per database, so services in different databases of
    one cluster never contend; services sharing a database set distinct MIGRATION_LOCK_NAMEs."""
    digest = hashlib.blake2b(f"alembic-hook:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_HOLDER_SQL = """
SELECT l.pid, a.usename, a.application_name, a.client_addr::text, a.backend_start, now() - a.backend_start
  FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
         SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.classid = :classid AND l.objid = :objid AND l.objsubid = 1
"""


class HeldLock:
    """The held lock: how long it took to get, and a heartbeat that keeps its session from being ended as
    idle while the runner is alive."""

    def __init__(
        self, conn: pg8000.native.Connection, waited: float, heartbeat: float | None
    ) -> None:
        self.waited = waited
        self._conn = conn
        self._use = threading.Lock()  # pg8000 connections are not for two threads at once
        self._stop = threading.Event()
        self._lost: str | None = None
        self._thread: threading.Thread | None = None
        if heartbeat is not None:
            self._thread = threading.Thread(
                target=self._beat, args=(heartbeat,), name="migration-lock-heartbeat", daemon=True
            )
            self._thread.start()

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                with self._use:
                    self._conn.run("SELECT 1")
            except Exception as exc:  # noqa: BLE001 - remembered; ensure_held() reports it
                self._lost = f"{type(exc).__name__}: {str(exc)[:200]}"
                return

    def ensure_held(self) -> None:
        """Raise unless the lock's session is still alive (so the lock is still ours)."""
        if self._lost is None:
            try:
                with self._use:
                    self._conn.run("SELECT 1")
            except Exception as exc:  # noqa: BLE001
                self._lost = f"{type(exc).__name__}: {str(exc)[:200]}"
        if self._lost is not None:
            raise HookError(
                ErrorKind.CONNECTION_LOST,
                f"The migration lock's session ended ({self._lost}); "
                "another run may hold the lock now, so this one stops. The runner was probably "
                "frozen longer than DB_IDLE_TIMEOUT_SECONDS. Run again.",
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=PROBE_TIMEOUT)
        # ends the session, which releases the lock; if the connection is already gone, so is the lock
        with suppress(Exception):
            self._conn.close()


@contextmanager
def migration_lock(
    creds: Credentials,
    *,
    name: str,
    wait: float,
    deadline: Deadline,
    application_name: str,
    idle_timeout: float | None = None,
    server_major: int = 0,
) -> Iterator[HeldLock]:
    """Hold the lock for the block. With `idle_timeout`, PostgreSQL ends the lock's session once nobody has
    spoken on it for that long (PostgreSQL 14+; a heartbeat speaks every third of it while the runner lives)."""
    key = lock_key(name)
    bounds = SessionBounds(idle_session=idle_timeout)
    conn = open_native(
        creds,
        timeout=PROBE_TIMEOUT * 6,
        application_name=application_name,
        startup=bounds.startup(server_major),
    )
    heartbeat = (
        idle_timeout / 3
        if idle_timeout and "idle_session_timeout" in bounds.startup(server_major)
        else None
    )
    started = time.monotonic()
    bound = deadline.sub(wait)
    backoff = Backoff(0.05, 1.0)
    held: HeldLock | None = None
    try:
        while not conn.run("SELECT pg_try_advisory_lock(:key)", key=key)[0][0]:
            if bound.remaining() <= 0:
                raise _busy(conn, key, name, time.monotonic() - started)
            # poll interval of a bounded wait
            backoff.sleep(min(bound.remaining(), heartbeat or 1.0))
        held = HeldLock(conn, time.monotonic() - started, heartbeat)
        logger.info(
            "Migration lock acquired",
            extra={"lock": name, "lock_wait_ms": round(held.waited * 1000, 1)},
        )
        yield held
    except HookError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise classify(exc, creds) from None
    finally:
        if held is not None:
            held.release()
        else:
            with suppress(Exception):
                conn.close()


def _busy(conn: pg8000.native.Connection, key: int, name: str, waited: float) -> HookError:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    rows = conn.run(_HOLDER_SQL, classid=unsigned >> 32, objid=unsigned & 0xFFFFFFFF)
    app = None
    if rows:
        pid, user, app, addr, since, held = rows[0]
        # a role without pg_read_all_stats sees another role's session with these blanked
        details = [
            f"user {user}" if user else "",
            f"application_name {app!r}" if app else "",
            f"client {addr}" if addr else "",
            f"connected since {since.isoformat(timespec='seconds')}, {_age(held)} ago"
            if since
            else "",
        ]
        shown = (
            ", ".join(d for d in details if d)
            or "details hidden: grant pg_read_all_stats to see them"
        )
        who = f"PostgreSQL backend pid {pid} ({shown})"
    else:
        who = "another session (it released the lock just now)"
    return HookError(
        ErrorKind.MIGRATION_LOCKED,
        f"Another migration run holds the lock {name!r}: {who}. Waited {waited:.1f} s. Let that run "
        f"finish and retry; if it is stuck, end it with SELECT pg_terminate_backend(<pid>).",
        holder=app or None,
    )


def _age(delta: object) -> str:
    seconds = int(getattr(delta, "total_seconds", lambda: 0)())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"

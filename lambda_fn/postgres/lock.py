"""One runner at a time: a session-level advisory lock on a dedicated connection.

Polling `pg_try_advisory_lock` (never a blocking `pg_advisory_lock`) keeps the wait bounded and cannot
deadlock with CREATE INDEX CONCURRENTLY, which waits for every open transaction. The lock lives on its own
autocommit connection so that it survives the migration connection's commits, and PostgreSQL drops it
when that connection ends, even after a crash.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pg8000.native

from lambda_fn.credentials import Credentials
from lambda_fn.deadline import Deadline
from lambda_fn.errors import ErrorKind, HookError
from lambda_fn.log import logger
from lambda_fn.postgres.connect import PROBE_TIMEOUT, open_native
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


@contextmanager
def migration_lock(creds: Credentials, *, name: str, wait: float, deadline: Deadline,
                   application_name: str) -> Iterator[float]:
    """Hold the lock for the block; yields the seconds spent waiting for it."""
    key = lock_key(name)
    conn = open_native(creds, timeout=PROBE_TIMEOUT * 6, application_name=application_name)
    started = time.monotonic()
    bound = deadline.sub(wait)
    delay = 0.05
    try:
        while not conn.run("SELECT pg_try_advisory_lock(:key)", key=key)[0][0]:
            if bound.remaining() <= 0:
                raise _busy(conn, key, name, time.monotonic() - started)
            time.sleep(min(delay, bound.remaining()))  # poll interval of a bounded wait
            delay = min(delay * 2, 1.0)
        waited = time.monotonic() - started
        logger.info("Migration lock acquired", extra={"lock": name, "lock_wait_ms": round(waited * 1000, 1)})
        yield waited
    except HookError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise classify(exc, creds) from None
    finally:
        # ends the session, which releases the lock; if the connection is already gone, so is the lock
        with suppress(Exception):
            conn.close()


def _busy(conn: pg8000.native.Connection, key: int, name: str, waited: float) -> HookError:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    rows = conn.run(_HOLDER_SQL, classid=unsigned >> 32, objid=unsigned & 0xFFFFFFFF)
    app = None
    if rows:
        pid, user, app, addr, since, held = rows[0]
        # a role without pg_read_all_stats sees another role's session with these blanked
        details = [f"user {user}" if user else "", f"application_name {app!r}" if app else "",
                   f"client {addr}" if addr else "",
                   f"connected since {since.isoformat(timespec='seconds')}, {_age(held)} ago" if since else ""]
        shown = ", ".join(d for d in details if d) or "details hidden: grant pg_read_all_stats to see them"
        who = f"PostgreSQL backend pid {pid} ({shown})"
    else:
        who = "another session (it released the lock just now)"
    return HookError(ErrorKind.MIGRATION_LOCKED,
                     f"Another migration run holds the lock {name!r}: {who}. Waited {waited:.1f} s. Let that run "
                     f"finish and retry; if it is stuck, end it with SELECT pg_terminate_backend(<pid>).",
                     holder=app or None)


def _age(delta: object) -> str:
    seconds = int(getattr(delta, "total_seconds", lambda: 0)())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"

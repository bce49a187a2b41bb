"""A run bounded by its deadline even while a revision's own Python runs (issue 18, point 2).

`statement_timeout` bounds each statement, not the Python between statements: a revision that loops, or
sleeps between quick statements, or a safety gate rendering revision code offline, would run past the
invocation, and on Lambda the function is killed before anyone is told. So when the run has a deadline it
runs in a worker thread, and the calling thread waits for it only until the deadline. Then it:

1. fences the run (`postgres/sessions.py`): the run opens no database session from now on;
2. cuts the run's sessions (shuts their sockets: no COMMIT can follow) and interrupts the worker thread
   (an asynchronous exception, delivered when it next runs Python bytecode);
3. terminates the sessions from a fresh connection and waits until PostgreSQL confirms they are gone: the
   open revision is rolled back and nothing of this run can move the database any more;
4. reads the version table back and answers, from the calling thread, with where the database is.

The caller's reply then goes out within the reporting margin the deadline left (`deadline.py` sizes it
for this stop and the reply's own bounded retries). Without a deadline (a laptop, CI) the run stays in the
calling thread, as before.

Alembic keeps module-level state (`alembic.op`, `alembic.context`), so two runs in one process must never
overlap: a later run waits briefly for a worker that has not unwound yet and otherwise refuses, touching
nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pg8000.native

from lambda_fn.contract import ErrorKind
from lambda_fn.deadline import STOP_SECONDS, Deadline
from lambda_fn.engine.heads_manifest import VersionTable
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.postgres import sessions
from lambda_fn.postgres.connect import open_native, server_major
from lambda_fn.result import Result, RevisionRun, StepEvent

GRACE_SECONDS = 0.5  # the run's own bounded waits end at the deadline: let it answer itself first
CONNECT_SECONDS = (
    1.5  # the watchdog's own connection: with the grace and the termination, STOP_SECONDS
)
TERMINATE_WAIT_MS = (
    1000  # how long pg_terminate_backend waits for a backend to be gone (PostgreSQL 14+)
)
TERMINATE_WAIT_SINCE = 14
EARLIER_RUN_WAIT = 1.0  # how long a new run waits for an interrupted one to unwind


class RunAbandoned(BaseException):
    """Raised inside an abandoned worker thread; a BaseException so no `except Exception` swallows it."""


@dataclass
class Progress:
    """What the watchdog can tell about the run while it goes (written by the worker thread)."""

    running: str | None = None  # the revision running now
    version_table: tuple[str | None, str] | None = (
        None  # (schema, table): where to read the revision back
    )
    finished: list[str] = field(default_factory=list)


_progress: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "alembic_hook_progress", default=None
)
_unfinished: list[
    threading.Thread
] = []  # workers interrupted at their deadline, maybe still unwinding


def note_version_table(schema: str | None, table: str) -> None:
    """Called by the full path once env.py said where the revision lives."""
    if (progress := _progress.get()) is not None:
        progress.version_table = (schema, table)


def observing(observe: Callable[[StepEvent], None] | None) -> Callable[[StepEvent], None]:
    """`observe`, also keeping note of the revision running now."""

    def note(event: StepEvent) -> None:
        if (progress := _progress.get()) is not None:
            if event.duration_ms is None:
                progress.running = event.revision
            else:
                progress.running = None
                progress.finished.append(event.revision)
        if observe is not None:
            observe(event)

    return note


def run_bounded(work: Callable[[Result], None], result: Result, deadline: Deadline) -> Result:
    """`work(result)` (which never raises) within `deadline`; the result, or at the deadline the watchdog's
    answer after it stopped the run (see the module doc)."""
    if math.isinf(deadline.remaining()):
        work(result)
        return result
    if (busy := _earlier_run_still_going(result)) is not None:
        return busy
    watched, progress = sessions.Sessions(), Progress()

    def worker() -> None:
        sessions.watch(watched)
        _progress.set(progress)
        with contextlib.suppress(RunAbandoned):
            work(result)

    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(worker,), name="migration-run", daemon=True
    )
    thread.start()
    thread.join(deadline.remaining() + GRACE_SECONDS)
    if not thread.is_alive():
        return result
    return _stop(thread, watched, progress, result)


def _earlier_run_still_going(result: Result) -> Result | None:
    _unfinished[:] = [t for t in _unfinished if t.is_alive()]
    for thread in _unfinished:
        thread.join(EARLIER_RUN_WAIT)
    if not any(t.is_alive() for t in _unfinished):
        _unfinished.clear()
        return None
    return Result.failure(
        result.command,
        HookError(
            ErrorKind.INTERNAL,
            "A revision of an earlier run in this process is still executing its Python after "
            "that run was stopped at its deadline (its database sessions were ended, so it cannot change the "
            "database); nothing was run. Run again: a new process (a new Lambda execution environment after the "
            "function is updated, or after this one is retired) is free of it. Bound the revision's own loops.",
        ),
        result.target,
    )


def _stop(
    thread: threading.Thread, watched: sessions.Sessions, progress: Progress, result: Result
) -> Result:
    began = time.monotonic()
    open_sessions = watched.fence()
    for session in open_sessions:
        sessions.cut(session)
    _interrupt(thread)
    _unfinished.append(thread)
    confirmed, at = _terminate_and_read_back(open_sessions, progress)
    running = progress.running
    answer = Result(
        command=result.command,
        status=result.status,
        target=result.target,
        from_revision=result.from_revision,
        database=result.database,
        heads=list(result.heads),
        run_id=result.run_id,
        snapshot=result.snapshot,
        findings=result.findings,
    )
    answer.applied = [
        RevisionRun(r.revision, r.description, r.direction, r.duration_ms)
        for r in list(result.applied)
    ]
    answer.to_revision = ",".join(at) if at is not None else result.to_revision
    where = (
        f"The database is at {answer.to_revision or 'base'} (read back after the sessions ended)."
        if at is not None
        else f"The database was last seen at {result.to_revision or result.from_revision or 'base'}."
    )
    what = f"revision {running}'s Python" if running else "the run (before or between revisions)"
    ended = (
        "its database sessions were ended and PostgreSQL confirmed them gone, so the open revision rolled "
        "back and nothing of this run can change the database any more"
        if confirmed
        else "its sessions' sockets were shut, so no COMMIT can follow, but PostgreSQL could not be asked to "
        "confirm them gone: the open revision rolls back when the server sees the session end"
    )
    answer.fail(
        HookError(
            ErrorKind.DEADLINE,
            f"Stopped at the deadline: {what} was still running when the time "
            f"to report ran out; {ended}. {where} Raise the function timeout, mark the revision long "
            "(alembic_hook_long = True) for the long lane, or bound its loops; then run again.",
            running,
        )
    )
    logger.error(
        "Run stopped by the watchdog at its deadline",
        extra={
            "revision": running,
            "sessions": len(open_sessions),
            "confirmed": confirmed,
            "database_at": answer.to_revision,
            "stop_ms": round((time.monotonic() - began) * 1000, 1),
        },
    )
    return answer


def _interrupt(thread: threading.Thread) -> None:
    """Raise RunAbandoned in the worker when it next runs bytecode (a sleeping or blocked thread gets it on
    waking); its sessions are gone already, so all it can do is unwind."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(RunAbandoned)
        )


def _terminate_and_read_back(
    open_sessions: list[sessions.Session], progress: Progress
) -> tuple[bool, tuple[str, ...] | None]:
    """(the sessions are confirmed gone, the revision read back or None) within STOP_SECONDS."""
    if not open_sessions:
        return True, None
    first = open_sessions[0]
    try:
        conn = open_native(
            first.creds, timeout=CONNECT_SECONDS, application_name=first.application_name
        )
    except HookError as exc:
        logger.error(
            "The watchdog could not connect to end the run's sessions", extra={"error": exc.message}
        )
        return False, None
    try:
        conn.run(f"SET statement_timeout = '{int(STOP_SECONDS * 1000)}ms'")
        confirmed = _terminate(conn, open_sessions)
        return confirmed, _read_back(conn, progress) if confirmed else None
    except pg8000.native.DatabaseError as exc:
        logger.error(
            "The watchdog could not end the run's sessions", extra={"error": str(exc)[:300]}
        )
        return False, None
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _terminate(conn: pg8000.native.Connection, open_sessions: list[sessions.Session]) -> bool:
    pids = sorted({s.pid for s in open_sessions if s.pid})
    names = sorted({s.application_name for s in open_sessions})
    # application_name too: a pid of a session that closed may have been reused by another client
    alive = "SELECT pid FROM pg_stat_activity WHERE pid = ANY(CAST(:pids AS int[])) AND application_name = ANY(:names)"
    wait = TERMINATE_WAIT_MS if server_major(conn) >= TERMINATE_WAIT_SINCE else 0
    for row in conn.run(alive, pids=pids, names=names) or []:
        conn.run(
            "SELECT pg_terminate_backend(:pid, :wait)"
            if wait
            else "SELECT pg_terminate_backend(:pid)",
            **({"pid": row[0], "wait": wait} if wait else {"pid": row[0]}),
        )
    end = time.monotonic() + TERMINATE_WAIT_MS / 1000
    while conn.run(alive, pids=pids, names=names):
        if time.monotonic() > end:
            return False
        # polling the server for the backends' exit (PostgreSQL 13 and older), bounded
        time.sleep(0.05)
    return True


def _read_back(conn: pg8000.native.Connection, progress: Progress) -> tuple[str, ...] | None:
    if progress.version_table is None:
        return None
    schema, table = progress.version_table
    qualified = VersionTable(table, schema).quoted()
    exists = conn.run("SELECT to_regclass(:t) IS NOT NULL", t=qualified)
    if not exists or not exists[0][0]:
        return ()
    return tuple(str(r[0]) for r in conn.run(f"SELECT version_num FROM {qualified}") or [])

"""The domain: plan, lock, apply, report. Knows nothing of Lambda or of who is asking.

`run(request, settings, ...)` never raises: every outcome is a `Result`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy
from sqlalchemy import Connection

from lambda_fn import credentials, database
from lambda_fn.alembic_project import AlembicProject, Heads
from lambda_fn.commands import Command, Request
from lambda_fn.credentials import Credentials, SecretReader
from lambda_fn.deadline import Deadline
from lambda_fn.errors import ErrorKind, HookError
from lambda_fn.log import logger
from lambda_fn.migration_lock import migration_lock
from lambda_fn.result import ErrorInfo, Result, RevisionRun, Status
from lambda_fn.settings import Settings

# A revision does not start unless at least this long is left: a statement_timeout shorter than this
# would only fail it halfway.
MIN_STEP_SECONDS = 2.0


@dataclass
class _Run:
    """What one run learns as it goes, so a failure still reports how far it got."""

    request: Request
    started: float = field(default_factory=time.monotonic)
    r: Result = field(init=False)

    def __post_init__(self) -> None:
        self.r = Result(command=self.request.command.value, status=Status.FAILED, target=self.request.revision)


def run(request: Request, settings: Settings, *, deadline: Deadline | None = None,
        read_secret: SecretReader | None = None, application_name: str | None = None) -> Result:
    deadline = deadline or Deadline()
    state = _Run(request)
    result = state.r
    try:
        request.validate()
        if request.command is Command.UPGRADE and settings.skip_migrations:
            result.status, result.message = Status.SKIPPED, "SKIP_MIGRATIONS is set: the database was not touched."
            logger.warning(result.message)
        else:
            _Engine(settings, deadline, read_secret, application_name or settings.application_name).dispatch(state)
    except HookError as exc:
        _fail(result, exc)
    except Exception as exc:  # noqa: BLE001 - the contract is one Result, whatever happens
        logger.exception("Unexpected failure")
        _fail(result, HookError(ErrorKind.INTERNAL, f"Unexpected {type(exc).__name__}: {str(exc)[:300]}. "
                                "This is a bug in the hook; the logs hold the traceback."))
    result.duration_ms = _ms(time.monotonic() - state.started)
    log = logger.info if result.ok else logger.error
    log("Migration run finished", extra={"result": result.to_dict()})
    return result


def _fail(result: Result, exc: HookError) -> None:
    result.status = Status.FAILED
    result.error = ErrorInfo(kind=exc.kind, message=exc.message, revision=exc.revision)
    result.message = exc.message


class _Engine:
    def __init__(self, settings: Settings, deadline: Deadline, read_secret: SecretReader | None,
                 application_name: str) -> None:
        self.settings = settings
        self.deadline = deadline
        self.read_secret = read_secret
        self.application_name = application_name

    # --- connections --------------------------------------------------------------------------------

    def _credentials(self) -> Credentials:
        creds = credentials.resolve(self.settings, self.read_secret)
        return database.wait_until_ready(
            creds, wait=self.settings.db_wait, deadline=self.deadline, application_name=self.application_name,
            on_auth_failure=lambda: credentials.resolve(self.settings, self.read_secret, force_fetch=True),
            create_database=self.settings.create_database)

    def _statement_timeout(self) -> float:
        return self.deadline.bound(self.settings.statement_timeout)

    @contextmanager
    def _connect(self, creds: Credentials) -> Iterator[Connection]:
        if self.deadline.remaining() < MIN_STEP_SECONDS:
            raise HookError(ErrorKind.DEADLINE, "No time left to connect; raise the function timeout.")
        engine = database.make_engine(creds, statement_timeout=self._statement_timeout,
                                      lock_timeout=self.settings.lock_timeout, application_name=self.application_name)
        try:
            with engine.connect() as conn:
                self._bound_statements(conn)
                yield conn
        except HookError:
            raise
        except sqlalchemy.exc.DBAPIError as exc:
            raise database.classify(exc, creds) from None

    def _bound_statements(self, conn: Connection) -> None:
        """statement_timeout never beyond the time left. The startup value (the configured one) is what a
        RESET inside a migration returns to."""
        ms = max(1, int(self._statement_timeout() * 1000))
        conn.exec_driver_sql(f"SET statement_timeout = {ms}")
        conn.commit()

    # --- commands ----------------------------------------------------------------------------------

    def dispatch(self, state: _Run) -> None:
        project = AlembicProject(self.settings.alembic_config, self.settings.script_location)
        cmd = state.request.command
        if cmd is Command.HEADS:
            heads = project.heads()
            state.r.heads, state.r.status = list(heads), Status.OK
            state.r.message = f"head(s): {', '.join(heads)}"
            return
        if cmd in (Command.UPGRADE, Command.DOWNGRADE):
            project.require_single_head()  # before touching the database at all
        creds = self._credentials()
        state.r.database = creds.describe()
        with self._connect(creds) as conn:
            current = project.current(conn)
            self._describe(state.r, project, current)
            logger.info("Migration status before", extra={"current": list(current), "heads": state.r.heads,
                                                           "pending": state.r.pending, "command": cmd.value})
            if cmd is Command.STAMP:
                self._stamp(state, project, conn, creds, current)
            else:
                project.check_known(current)
                handler = {
                    Command.STATUS: self._status, Command.CURRENT: self._status, Command.HISTORY: self._history,
                    Command.SQL: self._sql, Command.UPGRADE: self._upgrade, Command.DOWNGRADE: self._downgrade,
                }[cmd]
                handler(state, project, conn, creds, current)

    @staticmethod
    def _describe(result: Result, project: AlembicProject, current: Heads) -> None:
        result.from_revision = result.to_revision = _join(current)
        result.heads = list(project.heads())
        known = all(project._known(r) for r in current)
        result.pending = [s.revision for s in project.pending(current)] if known else []

    def _status(self, state: _Run, project: AlembicProject, conn: Connection, creds: Credentials,
                current: Heads) -> None:
        r = state.r
        r.status = Status.PENDING if r.pending else Status.UP_TO_DATE
        at = r.from_revision or "an empty database (no revision)"
        r.message = (f"at {at}; {len(r.pending)} pending: {', '.join(r.pending)}" if r.pending
                     else f"at {at}; up to date with head {', '.join(r.heads)}")

    def _history(self, state: _Run, project: AlembicProject, conn: Connection, creds: Credentials,
                 current: Heads) -> None:
        state.r.history = project.history(current)
        state.r.status, state.r.message = Status.OK, f"{len(state.r.history)} revisions"

    def _sql(self, state: _Run, project: AlembicProject, conn: Connection, creds: Credentials,
             current: Heads) -> None:
        target = state.request.revision or "heads"
        state.r.target = target
        state.r.pending = [s.revision for s in project.pending(current, target)]
        if not state.r.pending:
            state.r.status, state.r.sql = Status.UP_TO_DATE, ""
            state.r.message = f"nothing to apply: the database is at or past {target}"
            return
        state.r.sql = project.offline_sql(current, target)
        state.r.status, state.r.message = Status.PENDING, f"SQL for {len(state.r.pending)} pending revision(s)"

    def _upgrade(self, state: _Run, project: AlembicProject, conn: Connection, creds: Credentials,
                 current: Heads) -> None:
        target = state.request.revision or "head"
        state.r.target = target
        project.resolve_target(target)  # a bad revision fails before the lock
        if not project.pending(current, target):
            # Fast path, no lock: nothing to apply (CloudFormation's rollback Update lands here too).
            self._no_op(state.r, current, target)
            return
        with self._lock(state, creds):
            current = project.current(conn)  # another run may have migrated while we waited
            project.check_known(current)
            steps = project.upgrade_steps(target, current)
            if not steps:
                self._no_op(state.r, current, target)
                return
            self._apply(state, project, conn, steps, "upgrade")

    def _downgrade(self, state: _Run, project: AlembicProject, conn: Connection, creds: Credentials,
                   current: Heads) -> None:
        target = state.request.revision or ""
        with self._lock(state, creds):
            current = project.current(conn)
            project.check_known(current)
            steps = project.downgrade_steps(target, current)
            if not steps:
                self._no_op(state.r, current, target)
                return
            self._apply(state, project, conn, steps, "downgrade")

    def _stamp(self, state: _Run, project: AlembicProject, conn: Connection, creds: Credentials,
               current: Heads) -> None:
        target = state.request.revision or ""
        if target not in ("base", "head", "heads"):
            project.get(target)
        with self._lock(state, creds):
            current = project.current(conn)
            purge = not all(project._known(r) for r in current)
            began = time.monotonic()
            project.stamp(conn, target, purge=purge)
            after = project.current(conn)
            state.r.applied.append(RevisionRun(_join(after) or "base", f"stamped (was {_join(current) or 'empty'})",
                                               "stamp", _ms(time.monotonic() - began)))
            state.r.to_revision, state.r.status = _join(after), Status.APPLIED
            state.r.pending = [s.revision for s in project.pending(after)]
            state.r.message = f"stamped {_join(after) or 'base'} (was {_join(current) or 'empty'}); no DDL ran"

    @staticmethod
    def _no_op(result: Result, current: Heads, target: str) -> None:
        result.status, result.pending = Status.UP_TO_DATE, []
        result.message = f"already at {_join(current) or 'base'}; nothing to apply for {target}"

    @contextmanager
    def _lock(self, state: _Run, creds: Credentials) -> Iterator[None]:
        with migration_lock(creds, name=self.settings.lock_name, wait=self.settings.lock_wait,
                            deadline=self.deadline, application_name=self.application_name) as waited:
            state.r.lock_wait_ms = _ms(waited)
            yield

    def _apply(self, state: _Run, project: AlembicProject, conn: Connection, steps: list[object],
               direction: str) -> None:
        r = state.r
        total = len(steps)
        for index, step in enumerate(steps, 1):
            script = step.revision  # type: ignore[attr-defined]
            rev, doc = script.revision, script.doc or ""
            left = self.deadline.remaining()
            if left < max(MIN_STEP_SECONDS, self.settings.lock_timeout):
                raise HookError(ErrorKind.DEADLINE, f"Stopped before {rev}: {left:.1f} s left is not enough to run "
                                f"it. {index - 1} of {total} revision(s) applied; the database is at "
                                f"{r.to_revision or 'base'}. Run again to continue, or raise the timeout.", rev)
            logger.info(f"Revision {direction} started", extra={"revision": rev, "description": doc,
                                                               "step": f"{index}/{total}"})
            began = time.monotonic()
            self._run_with_lock_retries(project, conn, step, rev)
            took = time.monotonic() - began
            r.applied.append(RevisionRun(rev, doc, direction, _ms(took)))
            r.to_revision = _join(project.current(conn))
            logger.info(f"Revision {direction} finished", extra={"revision": rev, "duration_ms": _ms(took)})
        r.status, r.pending = Status.APPLIED, [s.revision for s in project.pending(_split(r.to_revision))]
        r.message = (f"{direction}d {len(r.applied)} revision(s): {r.from_revision or 'base'} -> "
                     f"{r.to_revision or 'base'}")

    def _run_with_lock_retries(self, project: AlembicProject, conn: Connection, step: object, rev: str) -> None:
        """A lock_timeout (55P03) means the app held a table lock: back off and retry the whole revision
        (its transaction rolled back), within the retry budget and the deadline."""
        delay = 0.5
        for attempt in range(self.settings.lock_retries + 1):
            try:
                self._bound_statements(conn)
                project.run_step(conn, step)
                return
            except Exception as exc:  # noqa: BLE001 - classified just below
                if conn.in_transaction():
                    _quiet(conn.rollback)
                error = database.classify(exc, None, revision=rev)
                if error.kind is ErrorKind.MIGRATION_FAILED and error.revision is None:
                    error.revision = rev
            if error.kind is not ErrorKind.LOCK_TIMEOUT:
                raise _explain(error, rev)
            last = attempt == self.settings.lock_retries
            if last or self.deadline.remaining() < delay + MIN_STEP_SECONDS:
                raise HookError(ErrorKind.LOCK_TIMEOUT,
                                f"Revision {rev} could not get a table lock within lock_timeout "
                                f"{self.settings.lock_timeout:g} s after {attempt + 1} attempt(s): another "
                                "transaction holds a lock on a table it alters. Find it in pg_stat_activity / "
                                "pg_locks, let it finish (or end it), and run again. Nothing of this revision "
                                "was applied.", rev)
            logger.warning("Table lock busy; retrying the revision",
                           extra={"revision": rev, "attempt": attempt + 1, "retry_in_s": delay})
            time.sleep(delay)  # backoff before retrying the revision, not synchronisation
            delay = min(delay * 2, 8.0)


def _explain(error: HookError, rev: str) -> HookError:
    hints = {
        ErrorKind.MIGRATION_FAILED: "Its transaction was rolled back; the database stays at the revision "
                                    "before it. Fix the migration and run again: it continues from there.",
        ErrorKind.CONNECTION_LOST: "Its transaction was rolled back by the server; the database stays at the "
                                   "revision before it. Run again.",
        ErrorKind.STATEMENT_TIMEOUT: "Its transaction was rolled back.",
    }
    hint = hints.get(error.kind, "")
    return HookError(error.kind, f"Revision {rev} failed: {error.message} {hint}".strip(), rev)


def _quiet(fn: Callable[[], object]) -> None:
    # cleanup after a failure that is already being reported
    with contextlib.suppress(Exception):
        fn()


def _join(heads: Heads) -> str | None:
    return ",".join(heads) if heads else None


def _split(value: str | None) -> Heads:
    return tuple(value.split(",")) if value else ()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

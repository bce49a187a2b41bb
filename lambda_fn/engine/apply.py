"""Applying steps: one revision per transaction, each timed and logged, within the deadline, retried as a
whole when the application holds a table lock."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

from alembic.runtime.migration import RevisionStep
from alembic.script import Script

from lambda_fn.deadline import MIN_STEP_SECONDS
from lambda_fn.engine.context import Context, join, ms, split
from lambda_fn.engine.verify import verify_step
from lambda_fn.errors import ErrorKind, HookError
from lambda_fn.log import logger
from lambda_fn.postgres.errors import classify
from lambda_fn.result import RevisionRun, Status, StepEvent


def apply_steps(ctx: Context, steps: list[RevisionStep], direction: str) -> None:
    r, settings, deadline = ctx.result, ctx.target.settings, ctx.target.deadline
    total = len(steps)
    for index, step in enumerate(steps, 1):
        script = step.revision
        rev, doc = script.revision, script.doc or ""
        left = deadline.remaining()
        if ctx.request.partial and (stop := _stop_before(ctx, script, left, index - 1)):
            r.status, r.message = Status.PARTIAL, stop
            r.pending = [s.revision.revision for s in steps[index - 1:]]
            return
        if left < max(MIN_STEP_SECONDS, settings.table_lock_timeout):
            raise HookError(ErrorKind.DEADLINE, f"Stopped before {rev}: {left:.1f} s left is not enough to run "
                            f"it. {index - 1} of {total} revision(s) applied; the database is at "
                            f"{r.to_revision or 'base'}. Run again to continue, or raise the timeout.", rev)
        if ctx.lock is not None:
            ctx.lock.verify()  # a runner frozen past the idle bound has lost its lock: stop before more DDL
        logger.info(f"Revision {direction} started", extra={"revision": rev, "description": doc,
                                                           "step": f"{index}/{total}"})
        if ctx.observe:
            ctx.observe(StepEvent(index, total, rev, doc, direction))
        before = split(r.to_revision)
        ctx.ledger.step_started = datetime.now(UTC)
        began = time.monotonic()
        _run_with_table_lock_retries(ctx, step, rev)
        took = time.monotonic() - began
        after = ctx.current()
        verify_step(ctx, rev, direction, before, after)
        r.applied.append(RevisionRun(rev, doc, direction, ms(took)))
        r.to_revision = join(after)
        logger.info(f"Revision {direction} finished", extra={"revision": rev, "duration_ms": ms(took)})
        if ctx.observe:
            ctx.observe(StepEvent(index, total, rev, doc, direction, ms(took)))
    r.status, r.pending = Status.APPLIED, [s.revision for s in ctx.project.pending(split(r.to_revision))]
    r.message = f"{direction}d {len(r.applied)} revision(s): {r.from_revision or 'base'} -> {r.to_revision or 'base'}"


def _stop_before(ctx: Context, script: Script, left: float, done: int) -> str | None:
    """Why a time-budgeted run stops before this revision, or None to go on."""
    settings, rev = ctx.target.settings, script.revision
    if getattr(script.module, "alembic_hook_long", False) is True:
        ctx.result.long_revision = rev
        return (f"stopped before {rev}, declared long (alembic_hook_long = True): it runs in the long lane. "
                f"{done} revision(s) applied before it.")
    if left < max(MIN_STEP_SECONDS, settings.table_lock_timeout):
        return f"stopped before {rev}: the invocation's time budget is spent ({done} revision(s) applied); call again"
    return None


def _run_with_table_lock_retries(ctx: Context, step: RevisionStep, rev: str) -> None:
    """A lock_timeout (55P03) means the app held a table lock: back off and retry the whole revision
    (its transaction rolled back), within the retry budget and the deadline."""
    settings, deadline, conn = ctx.target.settings, ctx.target.deadline, ctx.database.conn
    delay = 0.5
    for attempt in range(settings.table_lock_retries + 1):
        try:
            ctx.target.bound_statements(conn)
            ctx.project.run_step(ctx.database, step)
            return
        except Exception as exc:
            if isinstance(exc, HookError) and exc.kind is ErrorKind.ENV_PY:
                raise
            if conn.in_transaction():
                with contextlib.suppress(Exception):  # cleanup after a failure that is being reported
                    conn.rollback()
            error = classify(exc, None, revision=rev)
            if error.kind is ErrorKind.MIGRATION_FAILED and error.revision is None:
                error.revision = rev
        if error.kind is not ErrorKind.LOCK_TIMEOUT:
            raise _explain(error, rev)
        last = attempt == settings.table_lock_retries
        if last or deadline.remaining() < delay + MIN_STEP_SECONDS:
            raise HookError(ErrorKind.LOCK_TIMEOUT,
                            f"Revision {rev} could not get a table lock within lock_timeout "
                            f"{settings.table_lock_timeout:g} s after {attempt + 1} attempt(s): another "
                            "transaction holds a lock on a table it alters. Find it in pg_stat_activity / "
                            "pg_locks, let it finish (or end it), and run again. Nothing of this revision "
                            "was applied.", rev)
        logger.warning("Table lock busy; retrying the revision",
                       extra={"revision": rev, "attempt": attempt + 1, "retry_in_s": delay})
        time.sleep(delay)  # backoff before retrying the revision, not synchronisation
        delay = min(delay * 2, 8.0)


_HINTS = {
    ErrorKind.MIGRATION_FAILED: "Its transaction was rolled back; the database stays at the revision before it. "
                                "Fix the migration and run again: it continues from there.",
    ErrorKind.CONNECTION_LOST: "Its transaction was rolled back by the server; the database stays at the "
                               "revision before it. Run again.",
    ErrorKind.STATEMENT_TIMEOUT: "Its transaction was rolled back.",
}


def _explain(error: HookError, rev: str) -> HookError:
    hint = _HINTS.get(error.kind, "")
    return HookError(error.kind, f"Revision {rev} failed: {error.message} {hint}".strip(), rev)

"""Applying steps: one run of env.py (one MigrationContext) for the run, one revision per transaction, each
timed, logged and verified, within the deadline, retried as a whole when the application holds a table lock."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import Script

from lambda_fn.contract import ErrorKind
from lambda_fn.deadline import MIN_STEP_SECONDS, Backoff
from lambda_fn.engine.answer import Applied, Partial
from lambda_fn.engine.context import Context, join, ms, split
from lambda_fn.engine.read_back import read_back_step
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.postgres.errors import classify
from lambda_fn.result import RevisionRun, StepEvent


def apply_steps(ctx: Context, steps: list[RevisionStep], direction: str) -> Applied | Partial:
    """Apply `steps` through ONE run of env.py, as `alembic upgrade` does: one MigrationContext for the run,
    so what Alembic keeps for a run holds (its DDL runner remembers, say, an enum type one revision's
    create_table made, and a later create_table naming it does not create it again). The hook still runs
    each revision in its own transaction (`transaction_per_migration`) and, between two revisions (the
    step before is committed, the next not begun), reads the step back, checks the deadline and the lock,
    and reports progress. A table-lock retry, or an env.py that holds a transaction of its own around
    run_migrations(), runs env.py again for what is left, with the same DDL memo. Answers every step applied,
    or (a time-budgeted run) where it stopped and what is left."""
    stepper = _Stepper(ctx, steps, direction)
    # read (and a bad setting refused) before any revision runs
    autocommit, why = ctx.project.autocommit
    if autocommit:
        logger.warning(
            "The project runs its migrations in AUTOCOMMIT: a failing revision can leave part of "
            "its statements applied (docs/real-projects.md)",
            extra={"autocommit": why},
        )
    while stepper.index < len(steps) and stepper.stop is None:
        before = stepper.index
        _run_with_table_lock_retries(ctx, stepper)
        if stepper.index == before and stepper.stop is None:
            # env.py returned without running the migrations: the step read-back says how
            read_back_step(
                ctx,
                steps[before].revision.revision,
                direction,
                split(ctx.result.to_revision),
                ctx.current(),
            )
            raise HookError(
                ErrorKind.ENV_PY,
                f"{ctx.project.env_py} finished without running the migrations "
                "(context.run_migrations() was not called); nothing was applied.",
                steps[before].revision.revision,
            )
    r = ctx.result
    if stepper.stop is not None:
        return Partial(stepper.stop, tuple(s.revision.revision for s in steps[stepper.index :]))
    return Applied(
        direction,
        r.from_revision,
        r.to_revision,
        len(r.applied),
        tuple(s.revision for s in ctx.project.pending(split(r.to_revision))),
    )


@dataclass
class _Running:
    step: RevisionStep
    before: tuple[str, ...]
    began: float


@dataclass
class _Stepper:
    """What Alembic's run_migrations() iterates: each step handed over only when the hook is ready for it."""

    ctx: Context
    steps: list[RevisionStep]
    direction: str
    index: int = 0  # the next step to hand over
    stop: str | None = None  # why a partial run stopped before steps[index]
    running: _Running | None = None
    # Alembic's DDL memo, the same across env.py runs
    memo: dict[str, Any] = field(default_factory=dict)

    def __call__(self, heads: Any, migration: MigrationContext) -> Iterator[RevisionStep]:
        migration.impl.memo = self.memo
        # env.py's own transaction around run_migrations() would hold every revision: one per run of env.py then
        one_only = bool(getattr(migration, "_in_external_transaction", False))
        while self.index < len(self.steps):
            if not self._ready(self.steps[self.index]):
                return
            yield self.steps[self.index]
            self._finished()
            if one_only:
                return

    def _ready(self, step: RevisionStep) -> bool:
        ctx, r = self.ctx, self.ctx.result
        settings, deadline, total, index = (
            ctx.target.settings,
            ctx.target.deadline,
            len(self.steps),
            self.index,
        )
        script = step.revision
        rev, doc = script.revision, script.doc or ""
        left = deadline.remaining()
        if ctx.request.partial and (stop := _stop_before(ctx, script, left, index)):
            self.stop = stop
            return False
        if left < max(MIN_STEP_SECONDS, settings.table_lock_timeout):
            raise HookError(
                ErrorKind.DEADLINE,
                f"Stopped before {rev}: {left:.1f} s left is not enough to run "
                f"it. {index} of {total} revision(s) applied; the database is at "
                f"{r.to_revision or 'base'}. Run again to continue, or raise the timeout.",
                rev,
            )
        if ctx.lock is not None:
            ctx.lock.ensure_held()  # a runner frozen past the idle bound has lost its lock: stop before more DDL
        logger.info(
            f"Revision {self.direction} started",
            extra={"revision": rev, "description": doc, "step": f"{index + 1}/{total}"},
        )
        if ctx.observe:
            ctx.observe(StepEvent(index + 1, total, rev, doc, self.direction))
        ctx.target.bound_statements(ctx.database.conn)
        ctx.ledger.step_started = datetime.now(UTC)
        self.running = _Running(step, split(r.to_revision), time.monotonic())
        return True

    def _finished(self) -> None:
        """The step Alembic just committed: read the database back, then count it."""
        ctx, r, running = self.ctx, self.ctx.result, self.running
        assert running is not None
        script = running.step.revision
        rev, doc = script.revision, script.doc or ""
        took = time.monotonic() - running.began
        after = ctx.current()
        read_back_step(ctx, rev, self.direction, running.before, after)
        r.applied.append(RevisionRun(rev, doc, self.direction, ms(took)))
        r.to_revision = join(after)
        self.running, self.index = None, self.index + 1
        logger.info(
            f"Revision {self.direction} finished", extra={"revision": rev, "duration_ms": ms(took)}
        )
        if ctx.observe:
            ctx.observe(StepEvent(self.index, len(self.steps), rev, doc, self.direction, ms(took)))


def _stop_before(ctx: Context, script: Script, left: float, done: int) -> str | None:
    """Why a time-budgeted run stops before this revision, or None to go on."""
    settings, rev = ctx.target.settings, script.revision
    if getattr(script.module, "alembic_hook_long", False) is True:
        ctx.result.long_revision = rev
        return (
            f"stopped before {rev}, declared long (alembic_hook_long = True): it runs in the long lane. "
            f"{done} revision(s) applied before it."
        )
    if left < max(MIN_STEP_SECONDS, settings.table_lock_timeout):
        return f"stopped before {rev}: the invocation's time budget is spent ({done} revision(s) applied); call again"
    return None


def _run_with_table_lock_retries(ctx: Context, stepper: _Stepper) -> None:
    """One run of env.py over the steps left. A lock_timeout (55P03) means the app held a table lock: back
    off and run again from the revision that met it (its transaction rolled back), within the retry budget
    and the deadline."""
    settings, deadline, conn = ctx.target.settings, ctx.target.deadline, ctx.database.conn
    backoff, attempt, index = Backoff(0.5, 8.0), 0, stepper.index
    while True:
        try:
            ctx.project.run_steps(ctx.database, stepper, stepper.steps[-1].revision.revision)
            return
        except Exception as exc:
            if isinstance(exc, HookError) and exc.kind in (ErrorKind.ENV_PY, ErrorKind.DEADLINE):
                raise
            rev = (
                stepper.steps[stepper.index].revision.revision
                if stepper.index < len(stepper.steps)
                else None
            )
            stepper.running = None
            if conn.in_transaction():
                # cleanup after a failure that is being reported
                with contextlib.suppress(Exception):
                    conn.rollback()
            error = classify(exc, None, revision=rev)
            if error.kind is ErrorKind.MIGRATION_FAILED and error.revision is None:
                error.revision = rev
            if isinstance(exc, HookError) and exc.kind is not ErrorKind.MIGRATION_FAILED:
                raise  # the hook's own verdict (a failed read-back, a lost lock): already explained
        # revisions before the one that met the lock went through: a fresh budget
        if stepper.index != index:
            backoff.reset()
            attempt, index = 0, stepper.index
        if error.kind is not ErrorKind.LOCK_TIMEOUT or rev is None:
            raise _explain(error, rev or "?")
        last = attempt == settings.table_lock_retries
        if last or deadline.remaining() < backoff.delay + MIN_STEP_SECONDS:
            raise HookError(
                ErrorKind.LOCK_TIMEOUT,
                f"Revision {rev} could not get a table lock within lock_timeout "
                f"{settings.table_lock_timeout:g} s after {attempt + 1} attempt(s): another "
                "transaction holds a lock on a table it alters. Find it in pg_stat_activity / "
                "pg_locks, let it finish (or end it), and run again. Nothing of this revision "
                "was applied.",
                rev,
            )
        logger.warning(
            "Table lock busy; retrying the revision",
            extra={"revision": rev, "attempt": attempt + 1, "retry_in_s": backoff.delay},
        )
        backoff.sleep()
        attempt += 1


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

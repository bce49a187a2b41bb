"""One function per command, each `(context, current heads) -> None`, filling in `context.result`.

Read-only commands never take the migration lock; changing commands take it, re-read the database's
revision under it (another run may have migrated while this one waited), and refuse an unknown revision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.engine import record
from lambda_fn.engine.apply import apply_steps
from lambda_fn.engine.context import Context, join, ms, split
from lambda_fn.engine.project import Heads
from lambda_fn.engine.read_back import read_back_stamp
from lambda_fn.errors import HookError
from lambda_fn.request import Command
from lambda_fn.result import Result, RevisionRun

Handler = Callable[[Context, Heads], None]


def status(ctx: Context, current: Heads) -> None:
    r = ctx.result
    r.status = Status.PENDING if r.pending else Status.UP_TO_DATE
    at = r.from_revision or "an empty database (no revision)"
    r.message = (f"at {at}; {len(r.pending)} pending: {', '.join(r.pending)}" if r.pending
                 else f"at {at}; up to date with head {', '.join(r.heads)}")
    if r.pending and ctx.request.command is Command.STATUS:  # the findings a deploy would meet
        from lambda_fn.engine.gate.enforce import annotate

        annotate(ctx, ctx.project.pending(current))


def history(ctx: Context, current: Heads) -> None:
    r = ctx.result
    r.history = ctx.project.history(current)
    ran = ctx.ledger.applied_by() if record.exists(ctx.ledger) else {}
    for entry in r.history:
        entry["ledger"] = ran.get(entry["revision"])  # when and by which run it last ran, if on record
    r.status, r.message = Status.OK, f"{len(r.history)} revisions"


def log(ctx: Context, current: Heads) -> None:
    r = ctx.result
    if not record.exists(ctx.ledger):
        r.log, r.status, r.message = [], Status.OK, "no ledger yet: the hook has not changed this database"
        return
    r.log = ctx.ledger.log(ctx.request.limit or 20, ctx.request.revision)
    r.status = Status.OK
    r.message = f"{len(r.log)} run(s), newest first" + (f", touching {ctx.request.revision}"
                                                         if ctx.request.revision else "")


def accept(ctx: Context, current: Heads) -> None:
    with locked(ctx, check_integrity=False):
        record.accept(ctx, ctx.current())


def sql(ctx: Context, current: Heads) -> None:
    r = ctx.result
    target = ctx.request.revision or "heads"
    r.target = target
    r.pending = [s.revision for s in ctx.project.pending(current, target)]
    if not r.pending:
        r.status, r.sql = Status.UP_TO_DATE, ""
        r.message = f"nothing to apply: the database is at or past {target}"
        return
    r.sql = ctx.project.offline_sql(current, target)
    r.status, r.message = Status.PENDING, f"SQL for {len(r.pending)} pending revision(s)"
    from lambda_fn.engine.gate.enforce import annotate

    annotate(ctx, ctx.project.pending(current, target))


def lint(ctx: Context, current: Heads) -> None:
    """The safety gate alone: the pending revisions (up to the requested one) judged against this database."""
    from lambda_fn.engine.gate.enforce import lint as gate_lint

    target = ctx.request.revision or "heads"
    ctx.result.target = target
    ctx.project.require_revisions()  # no revisions found is an error with upgrade's message, never "no findings"
    scripts = ctx.project.pending(current, target)
    ctx.result.pending = [s.revision for s in scripts]
    gate_lint(ctx, scripts)


def upgrade(ctx: Context, current: Heads) -> None:
    target = ctx.request.revision or "head"
    ctx.result.target = target
    ctx.project.resolve_target(target)  # a bad revision fails before the lock
    pending = ctx.project.pending(current, target)
    if not pending:
        # Nothing to apply, no lock (CloudFormation's rollback Update lands here too).
        _no_op(ctx.result, current, target)
        if record.exists(ctx.ledger):
            record.no_op(ctx, current)
        else:
            with locked(ctx, check_integrity=False):
                pass  # the first run with the ledger: create it and adopt what is applied, under the lock
        return
    from lambda_fn.engine.gate.enforce import enforce  # the safety gate loads only when something is pending

    enforce(ctx, pending)  # refuses (unsafe_migration) before the lock and before any DDL
    _move(ctx, target, "upgrade")


def downgrade(ctx: Context, current: Heads) -> None:
    _move(ctx, ctx.request.revision or "", "downgrade")


def _move(ctx: Context, target: str, direction: str) -> None:
    """Under the lock: re-read the revision (another run may have moved it), refuse an unknown one, plan the
    steps towards `target` and apply them."""
    with locked(ctx):
        current = ctx.current()
        ctx.project.check_known(current)
        plan = ctx.project.upgrade_steps if direction == "upgrade" else ctx.project.downgrade_steps
        steps = plan(target, current)
        if not steps:
            _no_op(ctx.result, current, target)
            return
        try:
            apply_steps(ctx, steps, direction)
        except HookError as exc:
            raise _moved_by_another_runner(ctx, exc) or exc from None


def _moved_by_another_runner(ctx: Context, error: HookError) -> HookError | None:
    """A failed step whose database is no longer where this run left it: another runner moved it. That is
    what a runner whose lock session ended mid-run does when its migration session goes on and commits (the
    revision's version-table update here then finds "0 rows"). Say so, and where the database is now."""
    if error.kind not in (ErrorKind.MIGRATION_FAILED, ErrorKind.MIGRATED_ELSEWHERE):
        return None
    r = ctx.result
    try:
        now = ctx.current()
    except Exception:  # noqa: BLE001 - the connection may be gone too: the original failure stands
        return None
    if set(now) == set(split(r.to_revision)):
        return None
    was, r.to_revision = r.to_revision, join(now)
    return HookError(ErrorKind.MOVED_BY_ANOTHER_RUNNER,
                     f"Another runner moved the database while this run held the migration lock: it is at "
                     f"{join(now) or 'base'}, not {was or 'base'} where this run left it, so revision "
                     f"{error.revision or '?'} was not applied by this run (its transaction rolled back). A runner "
                     "whose lock session ended (a partition, a frozen sandbox) went on migrating. Check `alembic-hook "
                     "log` and pg_stat_activity for the other runner, then run again: it continues from "
                     f"{join(now) or 'base'}.", error.revision)


def rehearse(ctx: Context, current: Heads) -> None:
    """The pending range run and measured on a copy (engine/rehearsal/); the target's schema never changes."""
    from lambda_fn.engine.rehearsal.run import rehearse as run_rehearsal

    run_rehearsal(ctx, current)


def stamp(ctx: Context, current: Heads) -> None:
    r, project = ctx.result, ctx.project
    target = ctx.request.revision or ""
    if target not in ("base", "head", "heads"):
        project.get(target)
    with locked(ctx, check_integrity=False):  # stamp is the repair: it must work whatever the files say
        current = ctx.current()
        purge = not all(project.knows(rev) for rev in current)
        began = time.monotonic()
        project.stamp(ctx.database, target, purge=purge)
        after = ctx.current()
        read_back_stamp(ctx, target, current, after)
        was = join(current) or "empty"
        took = ms(time.monotonic() - began)
        r.applied.append(RevisionRun(join(after) or "base", f"stamped (was {was})", "stamp", took))
        r.to_revision, r.status = join(after), Status.APPLIED
        r.pending = [s.revision for s in project.pending(after)]
        r.message = f"stamped {join(after) or 'base'} (was {was}); no DDL ran"


@contextmanager
def locked(ctx: Context, *, check_integrity: bool = True) -> Iterator[None]:
    """The migration lock, and the run on record in the ledger for as long as it is held; with `check_integrity`,
    every applied revision's file is checked against the ledger before any DDL."""
    with ctx.target.migration_lock(ctx.creds) as held:
        ctx.result.lock_wait_ms = ms(held.waited)
        ctx.lock = held
        try:
            with record.run(ctx, check_integrity=check_integrity):
                yield
        finally:
            ctx.lock = None


def check(ctx: Context, current: Heads) -> None:
    """Will a deploy migrate this database? env.py was probed before any command (refused if it would
    migrate anything else); here every revision file is imported too."""
    r, project = ctx.result, ctx.project
    count = project.import_all()
    # every check upgrade makes before any DDL, so "ready" means the deploy will migrate
    project.require_single_head()
    project.check_known(current)
    if record.exists(ctx.ledger):
        checksums = record.applied_checksums(ctx, current)
        ctx.ledger.check_integrity(set(checksums), checksums)
    if pending := project.pending(current):
        from lambda_fn.engine.gate.enforce import enforce

        enforce(ctx, pending)  # the safety gate, as upgrade runs it (and honouring the same escape)
    plan = project.plan
    r.env = plan.to_dict() if plan else None
    r.status = Status.PENDING if r.pending else Status.UP_TO_DATE
    how = plan.connection if plan else "unknown"
    table = f"{plan.version_table_schema + '.' if plan and plan.version_table_schema else ''}" \
            f"{plan.version_table if plan else 'alembic_version'}"
    r.message = (f"ready: env.py migrates {r.database} through {how}; version table {table}; {count} revision(s) "
                 f"import cleanly; head {', '.join(r.heads)}; {len(r.pending)} pending")


def _no_op(result: Result, current: Heads, target: str) -> None:
    result.status, result.pending = Status.UP_TO_DATE, []
    result.message = f"already at {join(current) or 'base'}; nothing to apply for {target}"


# Commands that need the database; HEADS answers from the project alone. STAMP may start from a revision
# the project does not know (that is what it repairs); every other command refuses one.
HANDLERS: dict[Command, Handler] = {
    Command.STATUS: status, Command.CURRENT: status, Command.HISTORY: history, Command.SQL: sql,
    Command.UPGRADE: upgrade, Command.DOWNGRADE: downgrade, Command.STAMP: stamp, Command.CHECK: check,
    Command.ACCEPT: accept, Command.LOG: log,
    Command.LINT: lint, Command.REHEARSE: rehearse,
}

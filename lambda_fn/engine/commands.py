"""One function per command, each `(context, current heads) -> what it found or did` (`answer.py` turns that
into the result's status and message); on the way each records in `context.result` how far it got, so a
failure still reports it.

Read-only commands never take the migration lock; changing commands take it, re-read the database's
revision under it (another run may have migrated while this one waited), and refuse an unknown revision.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lambda_fn.contract import ErrorKind
from lambda_fn.engine import record
from lambda_fn.engine.answer import Found, History, Logged, NoOp, Outcome, Ready, Sql, Stamped
from lambda_fn.engine.apply import apply_steps
from lambda_fn.engine.context import Context, join, ms, split
from lambda_fn.engine.heads_manifest import VersionTable
from lambda_fn.engine.project import Heads
from lambda_fn.engine.read_back import read_back_stamp
from lambda_fn.errors import HookError
from lambda_fn.request import Command, is_heads
from lambda_fn.result import RevisionRun

Handler = Callable[[Context, Heads], Outcome]


def status(ctx: Context, current: Heads) -> Outcome:
    r = ctx.result
    findings = None
    if r.pending and ctx.request.command is Command.STATUS:  # the findings a deploy would meet
        from lambda_fn.engine.gate.enforce import annotate

        findings = annotate(ctx, ctx.project.pending(current))
    return Found(r.from_revision, tuple(r.heads), tuple(r.pending), findings)


def history(ctx: Context, current: Heads) -> Outcome:
    r = ctx.result
    r.history = ctx.project.history(current)
    ran = ctx.ledger.applied_by() if record.exists(ctx.ledger) else {}
    for entry in r.history:
        # when and by which run it last ran, if on record
        entry["ledger"] = ran.get(entry["revision"])
    return History(len(r.history))


def log(ctx: Context, current: Heads) -> Outcome:
    r = ctx.result
    if not record.exists(ctx.ledger):
        r.log = []
        return Logged(0, ctx.request.revision, ledger=False)
    r.log = ctx.ledger.log(ctx.request.limit or 20, ctx.request.revision)
    return Logged(len(r.log), ctx.request.revision)


def accept(ctx: Context, current: Heads) -> Outcome:
    return locked(ctx, lambda: record.accept(ctx, ctx.current()), check_integrity=False)


def sql(ctx: Context, current: Heads) -> Outcome:
    r = ctx.result
    target = ctx.request.revision or "heads"
    r.target = target
    r.pending = [s.revision for s in ctx.project.pending(current, target)]
    if not r.pending:
        r.sql = ""
        return Sql(target, ())
    r.sql = ctx.project.offline_sql(current, target)
    from lambda_fn.engine.gate.enforce import annotate

    return Sql(target, tuple(r.pending), annotate(ctx, ctx.project.pending(current, target)))


def lint(ctx: Context, current: Heads) -> Outcome:
    """The safety gate alone: the pending revisions (up to the requested one) judged against this database."""
    from lambda_fn.engine.gate.enforce import lint as gate_lint

    target = ctx.request.revision or "heads"
    ctx.result.target = target
    ctx.project.require_revisions()  # no revisions found is an error with upgrade's message, never "no findings"
    scripts = ctx.project.pending(current, target)
    ctx.result.pending = [s.revision for s in scripts]
    return gate_lint(ctx, scripts)


def upgrade(ctx: Context, current: Heads) -> Outcome:
    target = ctx.request.revision or "head"
    ctx.result.target = target
    ctx.project.resolve_target(target)  # a bad revision fails before the lock
    pending = ctx.project.pending(current, target)
    if not pending:
        # Nothing to apply, no lock (CloudFormation's rollback Update lands here too).
        nothing = NoOp(join(current), target)
        if record.exists(ctx.ledger):
            record.no_op(ctx, current)
            return nothing
        # the first run with the ledger: create it and adopt what is applied, under the lock
        return locked(ctx, lambda: nothing, check_integrity=False)
    # the safety gate loads only when something is pending
    from lambda_fn.engine.gate.enforce import (
        enforce,
    )

    enforce(ctx, pending)  # refuses (unsafe_migration) before the lock and before any DDL
    return _move(ctx, target, "upgrade")


def downgrade(ctx: Context, current: Heads) -> Outcome:
    return _move(ctx, ctx.request.revision or "", "downgrade")


def _move(ctx: Context, target: str, direction: str) -> Outcome:
    """Under the lock: re-read the revision (another run may have moved it), refuse an unknown one, plan the
    steps towards `target` and apply them."""

    def move() -> Outcome:
        current = ctx.current()
        ctx.project.check_known(current)
        plan = ctx.project.upgrade_steps if direction == "upgrade" else ctx.project.downgrade_steps
        steps = plan(target, current)
        if not steps:
            return NoOp(join(current), target)
        try:
            return apply_steps(ctx, steps, direction)
        except HookError as exc:
            raise _moved_by_another_runner(ctx, exc) or exc from None

    return locked(ctx, move)


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
    return HookError(
        ErrorKind.MOVED_BY_ANOTHER_RUNNER,
        f"Another runner moved the database while this run held the migration lock: it is at "
        f"{join(now) or 'base'}, not {was or 'base'} where this run left it, so revision "
        f"{error.revision or '?'} was not applied by this run (its transaction rolled back). A runner "
        "whose lock session ended (a partition, a frozen sandbox) went on migrating. Check `alembic-hook "
        "log` and pg_stat_activity for the other runner, then run again: it continues from "
        f"{join(now) or 'base'}.",
        error.revision,
    )


def rehearse(ctx: Context, current: Heads) -> Outcome:
    """The pending range run and measured on a copy (engine/rehearsal/); the target's schema never changes."""
    from lambda_fn.engine.rehearsal.run import rehearse as run_rehearsal

    return run_rehearsal(ctx, current)


def stamp(ctx: Context, current: Heads) -> Outcome:
    r, project = ctx.result, ctx.project
    target = ctx.request.revision or ""
    if target != "base" and not is_heads(target):
        project.get(target)

    def repair() -> Outcome:  # stamp is the repair: it must work whatever the files say
        current = ctx.current()
        purge = not all(project.knows(rev) for rev in current)
        began = time.monotonic()
        project.stamp(ctx.database, target, purge=purge)
        after = ctx.current()
        read_back_stamp(ctx, target, current, after)
        was = join(current) or "empty"
        took = ms(time.monotonic() - began)
        r.applied.append(RevisionRun(join(after) or "base", f"stamped (was {was})", "stamp", took))
        r.to_revision = join(after)  # before the run row closes: the ledger records where it ends
        return Stamped(join(after), was, tuple(s.revision for s in project.pending(after)))

    return locked(ctx, repair, check_integrity=False)


def locked(ctx: Context, work: Callable[[], Outcome], *, check_integrity: bool = True) -> Outcome:
    """`work()` under the migration lock, the run on record in the ledger for as long as it is held (closed
    with the outcome's status); with `check_integrity`, every applied revision's file is checked against the ledger
    before any DDL."""
    with ctx.target.migration_lock(ctx.creds) as held:
        ctx.result.lock_wait_ms = ms(held.waited)
        ctx.lock = held
        try:
            return record.run(ctx, work, check_integrity=check_integrity)
        finally:
            ctx.lock = None


def check(ctx: Context, current: Heads) -> Outcome:
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
    how = plan.connection if plan else "unknown"
    table = (plan.versions if plan else VersionTable()).qualified()
    return Ready(r.database, how, table, count, tuple(r.heads), tuple(r.pending))


# Commands that need the database; HEADS answers from the project alone. STAMP may start from a revision
# the project does not know (that is what it repairs); every other command refuses one.
HANDLERS: dict[Command, Handler] = {
    Command.STATUS: status,
    Command.CURRENT: status,
    Command.HISTORY: history,
    Command.SQL: sql,
    Command.UPGRADE: upgrade,
    Command.DOWNGRADE: downgrade,
    Command.STAMP: stamp,
    Command.CHECK: check,
    Command.ACCEPT: accept,
    Command.LOG: log,
    Command.LINT: lint,
    Command.REHEARSE: rehearse,
}

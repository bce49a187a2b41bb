"""`rehearse`: the target's pending range (its revision to REV, default head) applied on a copy exactly as
`upgrade` applies it (the same env.py handling, one transaction per revision, autocommit blocks, bounds and
deadline: `apply_steps` itself), every statement measured, the verdict given by the policy, the measurement
kept in the target's ledger. The target's schema is never changed: on the target the command reads the
revision, holds a marker lock for a moment and writes the rehearsal's rows (the first time, under the migration
lock, it creates their table)."""

from __future__ import annotations

from typing import Any

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.engine.answer import NothingToRehearse, Rehearsed
from lambda_fn.engine.apply import apply_steps
from lambda_fn.engine.cache import file_sha256
from lambda_fn.engine.context import Context, join
from lambda_fn.engine.env_py import HookDatabase
from lambda_fn.engine.project import Heads
from lambda_fn.engine.record import sqlalchemy_ledger
from lambda_fn.engine.rehearsal import record
from lambda_fn.engine.rehearsal.copy import copy_settings, refuse_if_target, refuse_other_revision
from lambda_fn.engine.rehearsal.gate import policy_of
from lambda_fn.engine.rehearsal.measure import RevisionMeasure
from lambda_fn.engine.rehearsal.observe import Recorder
from lambda_fn.engine.rehearsal.policy import RehearsalPolicy, Violation
from lambda_fn.engine.target import TargetDatabase
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.result import Result


def rehearse(ctx: Context, current: Heads) -> NothingToRehearse | Rehearsed:
    r, project, copy = ctx.result, ctx.project, ctx.request.copy
    assert copy is not None  # Request.validate
    target = ctx.request.revision or "head"
    r.target = target
    project.resolve_target(target)  # a bad revision fails before the copy is touched
    policy = policy_of(project)
    pending = project.pending(current, target)
    r.pending = [s.revision for s in pending]
    kind = copy.kind or "copy"
    if not pending:
        r.rehearsal = _report(policy, kind, where="", current=current, measures=[], violations=[])
        return NothingToRehearse(join(current))
    copy_db = TargetDatabase(
        copy_settings(ctx.target.settings, copy),
        ctx.target.deadline,
        ctx.target.read_secret,
        f"{ctx.target.application_name} rehearsal"[:63],
    )
    creds = copy_db.ready_credentials()
    where = creds.describe()
    with copy_db.connect(creds) as conn:
        refuse_if_target(ctx.database.conn, conn, where)
        refuse_other_revision(current, project.current(conn), where)
        database = HookDatabase(conn, copy_db.engine, creds, lambda: copy_db.url(creds))
        copy_result = Result(
            command="upgrade",
            status=Status.FAILED,
            target=target,
            from_revision=join(current),
            to_revision=join(current),
        )
        steps = project.upgrade_steps(target, current)
        with Recorder(conn, lambda rev: file_sha256(project.get(rev).path)) as recorder:
            copy_ctx = Context(
                ctx.request,
                copy_result,
                project,
                copy_db,
                database,
                sqlalchemy_ledger(conn, copy_db.settings),
                recorder.observe,
            )
            database.on_version_apply = recorder.version_applied
            try:
                apply_steps(copy_ctx, steps, "upgrade")
            except HookError as exc:
                # what ran is measured and kept; the failure is the rehearsal's answer
                _keep(ctx, recorder.measures, current, where, kind)
                r.rehearsal = _report(
                    policy,
                    kind,
                    where=where,
                    current=current,
                    measures=recorder.measures,
                    violations=[],
                )
                raise HookError(
                    exc.kind, f"On the copy {where}: {exc.message}", exc.revision
                ) from None
    measures = recorder.measures
    violations = [
        v for m in measures for v in policy.violations(m, f"on a {kind} of this database")
    ]
    _keep(ctx, measures, current, where, kind)
    r.rehearsal = _report(
        policy, kind, where=where, current=current, measures=measures, violations=violations
    )
    r.applied, r.to_revision = copy_result.applied, join(current)  # the target itself did not move
    logger.info(
        "Rehearsal finished",
        extra={
            "copy": where,
            "revisions": len(measures),
            "violations": [v.text for v in violations],
        },
    )
    total = sum(m.duration_s for m in measures)
    if violations:
        revs = list(dict.fromkeys(v.revision for v in violations))
        raise HookError(
            ErrorKind.UNSAFE_MIGRATION,
            f"Rehearsed {len(measures)} revision(s) on {where}: "
            f"{len(violations)} beyond policy in {', '.join(revs)}: "
            + "; ".join(f"{v.revision} {v.text}" for v in violations),
            revs[0],
        )
    return Rehearsed(len(measures), where, kind, total, policy.max_lock_seconds)


def _keep(
    ctx: Context, measures: list[RevisionMeasure], current: Heads, where: str, kind: str
) -> None:
    if not measures:
        return
    if not record.exists(ctx.ledger):
        with ctx.target.migration_lock(ctx.creds):  # the table is created: one runner at a time
            record.create(ctx.ledger)
    record.save(ctx.ledger, measures, join(current), where, kind)


def _report(
    policy: RehearsalPolicy,
    kind: str,
    *,
    where: str,
    current: Heads,
    measures: list[RevisionMeasure],
    violations: list[Violation],
) -> dict[str, Any]:
    return {
        "copy": where,
        "kind": kind,
        "target_revision": join(current),
        "policy": policy.to_dict(),
        "within_policy": not violations,
        "violations": [v.text for v in violations],
        "revisions": [m.to_dict() for m in measures],
    }

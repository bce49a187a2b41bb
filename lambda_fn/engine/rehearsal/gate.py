"""At `upgrade`, the measured fact over the static guess (called once from the safety gate's `enforce`).

For each pending revision with a fresh rehearsal on record that matches its file and the target's revision:
- beyond policy: a refused finding with the numbers ("LOCK TABLE orders: blocks writes on public.orders for
  13.9 s on a copy of this database, 3 s allowed"), whatever the static lint said (nothing, or could not
  render);
- within policy: its refused findings about locks, rewrites, data changes or SQL that could not be reviewed
  pass, each reported with the measurement. Incompatible findings (the old code breaks) stay refused: a
  measurement says nothing about compatibility.
With `rehearsal = required`, a revision without one is refused (before any DDL, like every gate refusal).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from alembic.script import Script

from lambda_fn.contract import ErrorKind
from lambda_fn.engine.cache import file_sha256
from lambda_fn.engine.context import Context
from lambda_fn.engine.project import AlembicProject
from lambda_fn.engine.rehearsal import record
from lambda_fn.engine.rehearsal.measure import RevisionMeasure
from lambda_fn.engine.rehearsal.policy import SECTION, RehearsalPolicy, Use
from lambda_fn.errors import HookError
from lambda_fn.findings import Finding, FindingClass
from lambda_fn.log import logger

OVER_POLICY = "hook:rehearsal-over-policy"
REQUIRED = "hook:rehearsal-required"
ACKNOWLEDGE = "alembic_hook_acknowledge"
_MEASURABLE = frozenset({FindingClass.BLOCKING, FindingClass.DATA})


def policy_of(project: AlembicProject) -> RehearsalPolicy:
    return RehearsalPolicy.from_section(
        project.config.get_section(SECTION), project.config.config_file_name or "alembic.ini"
    )


def consider(ctx: Context, scripts: Sequence[Script], findings: list[Finding]) -> list[Finding]:
    policy = policy_of(ctx.project)
    if policy.use is Use.OFF or not scripts:
        return findings
    files = {s.revision: file_sha256(s.path) for s in scripts}
    on_record = record.fresh(ctx.ledger, ctx.result.from_revision, files, policy.max_age_hours)
    out: list[Finding] = []
    by_revision: dict[str, list[Finding]] = {}
    for f in findings:
        if f.rule == "hook:unused-acknowledgment" and OVER_POLICY in f.message:
            continue  # acknowledging the measured rule is this module's business, not the static lint's
        by_revision.setdefault(f.revision, []).append(f)
    for script in scripts:
        rev, own = script.revision, by_revision.pop(script.revision, [])
        rehearsal = on_record.get(rev)
        if rehearsal is None:
            out += own
            if policy.use is Use.REQUIRED:
                out.append(_required(script, policy))
            continue
        where = f"on a {rehearsal.kind or 'copy'} of this database {_age(rehearsal.age_s)} ago"
        violations = policy.violations(rehearsal.measure, where)
        acks = _acknowledged(script)
        if violations:
            out += [
                _over(script, v.table, v.statement, v.text, acks.get(OVER_POLICY))
                for v in violations
            ]
            out += own
        else:
            summary = _summary(rehearsal.measure, where, policy)
            out += [
                dataclasses.replace(f, refused=False, judged=summary)
                if f.refused
                and (
                    f.category in _MEASURABLE
                    or f.rule.startswith("hook:not-reviewable")
                    or f.rule == "hook:lint-unavailable"
                )
                else f
                for f in own
            ]
        logger.info(
            "Safety gate used a rehearsal",
            extra={
                "revision": rev,
                "age_s": round(rehearsal.age_s),
                "violations": [v.text for v in violations],
            },
        )
    for (
        rest
    ) in by_revision.values():  # findings on anything else (none expected) pass through unchanged
        out += rest
    _raise_if_measured_over(ctx, out)
    return out


def _raise_if_measured_over(ctx: Context, findings: list[Finding]) -> None:
    """A refusal by measurement says the numbers (the gate's own message names only the first rule)."""
    measured = [f for f in findings if f.rule == OVER_POLICY and f.refused]
    if not measured:
        return
    ctx.result.findings = findings
    others = sum(f.refused for f in findings) - len(measured)
    raise HookError(
        ErrorKind.UNSAFE_MIGRATION,
        f"Refused before any DDL (the database stays at {ctx.result.from_revision or 'base'}), by the "
        f"rehearsal's measurement: "
        + "; ".join(f"{f.revision} {f.message}" for f in measured)
        + (f". {others} other finding(s) refused too." if others else ".")
        + " Shorten the lock (each finding's fix), raise the policy in [alembic_hook], or acknowledge "
        f'it in the revision: {ACKNOWLEDGE} = {{"{OVER_POLICY}": "<why it is safe>"}}.',
        measured[0].revision,
    )


def _summary(m: RevisionMeasure, where: str, policy: RehearsalPolicy) -> str:
    worst = m.blocking()
    lock = (
        f"longest blocking lock {worst[0].held_s:.2f} s on {worst[0].table}"
        if worst
        else "no blocking lock"
    )
    rewrote = f", rewrote {', '.join(m.rewritten)}" if m.rewritten else ""
    return (
        f"rehearsed {where}: {m.duration_s:.2f} s, {lock}{rewrote}; within policy "
        f"({policy.max_lock_seconds:g} s locks, {policy.max_revision_seconds:g} s a revision)"
    )


def _over(script: Script, table: str | None, statement: str, text: str, ack: str | None) -> Finding:
    return Finding(
        script.revision,
        OVER_POLICY,
        FindingClass.BLOCKING,
        statement,
        table,
        "Shorten the lock: CREATE INDEX CONCURRENTLY, ADD CONSTRAINT ... NOT VALID then VALIDATE, "
        "backfill in batches, or a lock_timeout; or acknowledge it in the revision "
        f'({ACKNOWLEDGE} = {{"{OVER_POLICY}": "<why>"}}).',
        text,
        refused=ack is None,
        acknowledged=ack,
        path=script.path,
    )


def _required(script: Script, policy: RehearsalPolicy) -> Finding:
    return Finding(
        script.revision,
        REQUIRED,
        FindingClass.BLOCKING,
        "",
        None,
        "Rehearse first: alembic-hook --database-url TARGET rehearse --on COPY_URL (or the workflow's "
        "rehearsal stage), then deploy the same files.",
        f"rehearsal = required, and no rehearsal of this file from the target's current revision "
        f"younger than {policy.max_age_hours:g} h is on record.",
        refused=True,
        path=script.path,
    )


def _acknowledged(script: Script) -> dict[str, str]:
    value = getattr(getattr(script, "module", None), ACKNOWLEDGE, None)
    if not isinstance(value, dict):
        return {}
    return {
        k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and v.strip()
    }


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

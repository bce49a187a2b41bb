"""What the commands call: `enforce` (upgrade, before the migration lock and any DDL), `annotate` (status,
sql: findings shown, nothing refused), `lint` (the lint command through the engine, judged live) and
`lint_offline` (the CLI's `alembic-hook lint`: no database)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from alembic.script import Script
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.deadline import MIN_STEP_SECONDS, Deadline
from lambda_fn.engine.answer import Linted, LintedOffline, give
from lambda_fn.engine.context import Context
from lambda_fn.engine.gate import lint_records
from lambda_fn.engine.gate.judge import judge, live_catalogue
from lambda_fn.engine.gate.policy import SECTION, Policy
from lambda_fn.engine.project import AlembicProject
from lambda_fn.errors import HookError
from lambda_fn.findings import Finding, counts, refused
from lambda_fn.log import logger
from lambda_fn.request import is_heads
from lambda_fn.result import Result
from lambda_fn.settings import Settings

SQUAWK_TIMEOUT = 120.0


def policy_of(project: AlembicProject) -> Policy:
    section = project.config.get_section(SECTION)
    return Policy.from_section(section, project.config.config_file_name or "alembic.ini")


def assess(
    project: AlembicProject,
    scripts: Sequence[Script],
    *,
    conn: Any = None,
    deadline: Deadline | None = None,
) -> list[Finding]:
    """The findings on `scripts` (the pending range, in the order they apply); judged live when `conn` (the
    hook's connection) is given."""
    began = time.monotonic()
    policy = policy_of(project)
    left = (deadline or Deadline()).remaining() - MIN_STEP_SECONDS
    if left <= 0:
        raise HookError(
            ErrorKind.DEADLINE, "No time left to check the pending revisions; raise the timeout."
        )
    records, sources = lint_records.records(
        project.config,
        project.script,
        scripts,
        pg_version=policy.pg_version,
        timeout=min(SQUAWK_TIMEOUT, left),
    )
    live = live_catalogue(conn, scripts, records, policy) if conn is not None else None
    findings = judge(scripts, records, policy, live)
    logger.info(
        "Safety gate checked the pending revisions",
        extra={
            "revisions": len(scripts),
            "from_manifest": sources.manifest,
            "from_cache": sources.cache,
            "linted_here": len(sources.linted),
            "findings": counts(findings) or "none",
            "live": conn is not None,
            "duration_ms": round((time.monotonic() - began) * 1000, 1),
        },
    )
    for f in findings:
        if f.acknowledged is not None:
            logger.warning(
                "Acknowledged finding passes",
                extra={
                    "revision": f.revision,
                    "rule": f.rule,
                    "table": f.table,
                    "reason": f.acknowledged,
                },
            )
    return findings


def enforce(ctx: Context, scripts: Sequence[Script]) -> None:
    """Refuse (unsafe_migration) before the lock and before any DDL when a finding refuses."""
    request, result = ctx.request, ctx.result
    if request.skip_lint is not None:
        result.lint_skipped = request.skip_lint
        logger.warning(
            "Safety gate SKIPPED by confirmed request",
            extra={"reason": request.skip_lint, "pending": [s.revision for s in scripts]},
        )
        return
    result.findings = assess(
        ctx.project, scripts, conn=ctx.database.conn, deadline=ctx.target.deadline
    )
    # a fresh rehearsal's measurement over the static guess
    from lambda_fn.engine.rehearsal.gate import (
        consider,
    )

    result.findings = consider(ctx, scripts, result.findings)
    raise_if_refused(result.findings, f"the database stays at {result.from_revision or 'base'}")


def raise_if_refused(findings: Sequence[Finding], where: str) -> None:
    bad = refused(findings)
    if not bad:
        return
    for f in bad:
        logger.error(
            "Safety gate refuses a finding",
            extra={
                "revision": f.revision,
                "rule": f.rule,
                "class": f.category.value,
                "table": f.table,
            },
        )
    revisions = list(dict.fromkeys(f.revision for f in bad))
    first = bad[0]
    on = f" on {first.table}" if first.table else ""
    raise HookError(
        ErrorKind.UNSAFE_MIGRATION,
        f"Refused before any DDL ({where}): {len(bad)} finding(s) in {', '.join(revisions)} would break "
        f"the running code or lock its tables, first {first.revision} {first.rule} "
        f"[{first.category}]{on}. Write the safe form (each finding's fix), or acknowledge it in the "
        'revision: alembic_hook_acknowledge = {"<rule>": "<why it is safe>"} (or, for a revision you '
        "cannot edit, `acknowledge = <revision> <rule>: <why>` under [alembic_hook] in alembic.ini). "
        "See docs/safety-gate.md.",
        first.revision,
    )


def annotate(ctx: Context, scripts: Sequence[Script]) -> tuple[Finding, ...] | None:
    """status / sql: the findings the deploy would meet, judged live (None: nothing to judge); nothing refused
    here."""
    if not scripts:
        return None
    ctx.result.findings = assess(
        ctx.project, scripts, conn=ctx.database.conn, deadline=ctx.target.deadline
    )
    return tuple(ctx.result.findings)


def lint(ctx: Context, scripts: Sequence[Script]) -> Linted:
    """The lint command through the engine: the pending revisions, judged live; fails when a finding refuses
    (the result keeps the findings)."""
    r = ctx.result
    r.findings = assess(ctx.project, scripts, conn=ctx.database.conn, deadline=ctx.target.deadline)
    raise_if_refused(r.findings, "nothing was applied")
    return Linted(len(scripts), r.from_revision, tuple(r.findings))


def lint_offline(settings: Settings, spec: str | None) -> Result:
    """`alembic-hook lint [RANGE]`: no database. RANGE is START:END (either side may be empty: base, heads),
    or one REV for that revision alone; default every revision. Never raises."""
    began = time.monotonic()
    result = Result(command="lint", status=Status.FAILED, target=spec)
    try:
        project = AlembicProject(settings.alembic_config, settings.script_location)
        project.require_revisions()  # no revisions found is an error, as for upgrade
        scripts = select(project, spec)
        result.pending = [s.revision for s in scripts]
        result.heads = list(project.heads())
        result.findings = assess(project, scripts)
        raise_if_refused(result.findings, "offline lint")
        give(result, LintedOffline(len(scripts), tuple(result.findings)))
    except HookError as exc:
        result.fail(exc)
    result.duration_ms = round((time.monotonic() - began) * 1000, 1)
    return result


def select(project: AlembicProject, spec: str | None) -> list[Script]:
    """The revisions of a lint range, in the order they apply."""
    spec = (spec or "").strip()
    if spec and ":" not in spec:
        return [project.get(spec)]
    start, _, end = spec.partition(":")
    start, end = start.strip() or "base", end.strip() or "heads"
    current: tuple[str, ...] = () if start == "base" else (project.get(start).revision,)
    try:
        return project.between(
            current, project.heads() if is_heads(end) else (project.get(end).revision,)
        )
    except (CommandError, RevisionError) as exc:
        raise HookError(ErrorKind.BAD_REVISION, f"Cannot lint {spec!r}: {exc}") from None

"""How a command's run goes on record: the ledger on the hook's SQLAlchemy connection, the run row around
the locked part of a changing command, the integrity check before any DDL, and each revision's row written
from inside its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.engine.answer import Accepted, Outcome
from lambda_fn.engine.cache import file_sha256
from lambda_fn.engine.context import Context, join
from lambda_fn.engine.ledger import Ledger, Names, code_identity
from lambda_fn.engine.project import Heads
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.result import RevisionRun
from lambda_fn.settings import Settings


def sqlalchemy_ledger(conn: Connection, settings: Settings) -> Ledger:
    def execute(sql: str, params: dict[str, Any]) -> list[Any]:
        result = conn.execute(text(sql), params)
        return list(result) if result.returns_rows else []

    return Ledger(execute, conn.commit, Names.of(settings))


def exists(ledger: Ledger) -> bool:
    rows = ledger.execute("SELECT to_regclass(:name) IS NOT NULL", {"name": ledger.names.runs})
    ledger.commit()
    return bool(rows[0][0])


def applied_checksums(ctx: Context, current: Heads) -> dict[str, str]:
    """revision -> sha256 of its file now, for every revision the database has applied (files hashed as bytes;
    the full path has the revision map loaded already)."""
    # stamp repairs unknown ones: skip them
    known = tuple(rev for rev in current if ctx.project.knows(rev))
    if not known:
        return {}
    scripts = ctx.project.script.iterate_revisions(known, "base")
    return {s.revision: file_sha256(s.path) for s in scripts}


def run(ctx: Context, work: Callable[[], Outcome], *, check_integrity: bool) -> Outcome:
    """The run row around `work()`, the locked part of a changing command (the caller holds the migration
    lock), closed with the status its outcome answers."""
    ledger, r = ctx.ledger, ctx.result
    ledger.ensure()
    current = ctx.current()
    r.run_id = ledger.start(
        ctx.request.command.value,
        ctx.request.origin,
        code_identity(ctx.project.fingerprint),
        join(current),
    )
    try:
        checksums = applied_checksums(ctx, current)
        if current and not ledger.recorded():
            # migrated before the ledger existed: adopt what is applied as baseline, unverifiable
            ledger.adopt(sorted(checksums.items()))
            logger.info("Ledger adopted an existing database", extra={"baseline": len(checksums)})
        if abandoned := ledger.close_abandoned(join(current)):
            logger.warning("Closed runs whose runner stopped", extra={"abandoned_runs": abandoned})
        if check_integrity:
            ledger.check_integrity(set(checksums), checksums)
        ctx.database.on_version_apply = lambda step: _record_step(ctx, step)
        outcome = work()
    except HookError as exc:
        _finish(ledger, Status.FAILED.value, r.to_revision, exc)
        raise
    except Exception as exc:
        _finish(
            ledger,
            Status.FAILED.value,
            r.to_revision,
            HookError(ErrorKind.INTERNAL, f"Unexpected {type(exc).__name__}: {str(exc)[:300]}"),
        )
        raise
    else:
        _finish(ledger, outcome.answer()[0].value, r.to_revision)
        return outcome
    finally:
        ctx.database.on_version_apply = None


def _record_step(ctx: Context, step: Any) -> None:
    """Alembic's on_version_apply: inside the revision's transaction, after its version-table update."""
    if step.is_stamp:
        revision, direction, sha = ",".join(step.destination_revision_ids) or "base", "stamp", None
    else:
        revision = step.up_revision_id
        direction = "upgrade" if step.is_upgrade else "downgrade"
        script = ctx.project.script.get_revision(revision)
        sha = file_sha256(script.path) if script is not None else None
    ctx.ledger.record_step(revision, direction, sha)


def _finish(
    ledger: Ledger, status: str, to_revision: str | None, error: HookError | None = None
) -> None:
    try:
        ledger.finish(status, to_revision, error)
    except Exception:  # noqa: BLE001 - the connection may be gone; the next run closes this one as abandoned
        logger.warning(
            "Could not close the run in the ledger; the next run closes it", exc_info=True
        )


def no_op(ctx: Context, current: Heads) -> None:
    """An upgrade with nothing to apply, on record without the lock (one INSERT; the ledger exists). The
    applied revisions' files are verified here too (adopted baselines included): an edit is refused at head
    as it is when something is pending."""
    checksums = applied_checksums(ctx, current)
    try:
        ctx.ledger.check_integrity(set(checksums), checksums)
    except HookError as exc:
        ctx.result.run_id = ctx.ledger.start(
            ctx.request.command.value,
            ctx.request.origin,
            code_identity(ctx.project.fingerprint),
            join(current),
        )
        _finish(ctx.ledger, Status.FAILED.value, join(current), exc)
        raise
    ctx.result.run_id = ctx.ledger.start(
        ctx.request.command.value,
        ctx.request.origin,
        code_identity(ctx.project.fingerprint),
        join(current),
        status=Status.UP_TO_DATE.value,
    )


def accept(ctx: Context, current: Heads) -> Accepted:
    """Record the deployed file of an applied revision as the one that counts (the caller holds the lock and
    the run row)."""
    rev = ctx.project.get(ctx.request.revision or "").revision
    checksums = applied_checksums(ctx, current)
    if rev not in checksums:
        raise HookError(
            ErrorKind.BAD_REVISION,
            f"Revision {rev} is not applied to this database; only an applied "
            "revision's edit can be accepted.",
            rev,
        )
    before = ctx.ledger.recorded().get(rev, ("", None))[1]
    ctx.ledger.step_started = datetime.now(UTC)
    ctx.ledger.record_step(rev, "accepted", checksums[rev])
    ctx.ledger.commit()
    ctx.result.applied.append(
        RevisionRun(
            rev, f"accepted sha256 {checksums[rev]} (was {before or 'unrecorded'})", "accept", 0
        )
    )
    # before the run row closes: the ledger records where it ends
    ctx.result.to_revision = join(current)
    return Accepted(rev, checksums[rev], join(current))

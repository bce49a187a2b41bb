"""Never a false success: after each step the hook reads its own database back, through its own connection,
and a step that did not move it there stops the run before the next step (`migrated_elsewhere`)."""

from __future__ import annotations

from pathlib import Path

from lambda_fn.contract import ErrorKind
from lambda_fn.engine.context import Context, join
from lambda_fn.engine.env_py import snippet
from lambda_fn.engine.heads_manifest import VersionTable
from lambda_fn.engine.project import Heads
from lambda_fn.errors import HookError
from lambda_fn.request import is_heads


def read_back_step(ctx: Context, rev: str, direction: str, before: Heads, after: Heads) -> None:
    moved = rev in after if direction == "upgrade" else rev not in after and after != before
    if not moved:
        raise _elsewhere(ctx, f"{direction} of revision {rev}", before, after, rev)


def read_back_stamp(ctx: Context, target: str, before: Heads, after: Heads) -> None:
    if target == "base":
        moved = not after
    elif is_heads(target):
        moved = set(after) == set(ctx.project.heads())
    else:
        moved = ctx.project.get(target).revision in after
    if not moved:
        raise _elsewhere(ctx, f"stamp {target}", before, after, None)


def _elsewhere(ctx: Context, what: str, before: Heads, after: Heads, rev: str | None) -> HookError:
    plan = ctx.project.plan
    table = (plan.versions if plan else VersionTable()).qualified()
    env_py = Path(ctx.project.script.dir) / "env.py"
    return HookError(
        ErrorKind.MIGRATED_ELSEWHERE,
        f"The {what} ran, but the hook's database {ctx.creds.describe()} did not move: its version table {table} "
        f"is at {join(after) or 'base'} (was {join(before) or 'base'}). env.py (or the revision) migrated another "
        f"database or connection; this step is not reported as applied and the run stops here. Make {env_py} "
        f"use the connection the hook passes:\n{snippet(env_py)}",
        rev,
    )

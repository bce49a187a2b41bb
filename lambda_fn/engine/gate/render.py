"""Each pending revision's SQL, rendered offline with Alembic's `--sql` machinery, one chunk per revision.

The hook configures the offline context itself, as a well-behaved env.py does offline (a PostgreSQL dialect,
literal binds, a transaction per revision), and never runs the team's env.py for it: many env.py files have
no offline branch, build an engine from the ini's URL (`driver://...` in the `alembic init` template, or a
SQLite file), or read settings only a deploy has. None of that changes a revision's SQL, and none of it may
make a revision "not reviewable" or touch anything.

The range is rendered once; when that fails (a revision reads the database, which offline it cannot), each
revision is rendered on its own, so the one that fails is named and the others are still reviewed.
"""

from __future__ import annotations

import io
import os
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory

from lambda_fn.engine.gate.sql import Chunk, split

OFFLINE_URL = "postgresql://"  # offline needs a dialect, never a DBAPI or a connection
VERSION_TABLE = (
    "alembic_version"  # the rendered version-table statements are dropped whatever the name
)


@dataclass
class Rendered:
    chunks: dict[str, Chunk] = field(default_factory=dict)  # revision -> its statements
    # revision -> why it cannot be rendered offline
    errors: dict[str, str] = field(default_factory=dict)


def render(
    config: Config, script: ScriptDirectory, scripts: Sequence[Script], only: set[str] | None = None
) -> Rendered:
    """The upgrade SQL of `scripts` (a contiguous range, in the order they apply), kept for `only` (default:
    all of them)."""
    out = Rendered()
    members = {s.revision for s in scripts}
    wanted = members if only is None else only & members
    if not wanted:
        return out
    tops = [s.revision for s in scripts if not set(s.nextrev) & members]
    chunks = _try(config, script, independent(script, _range_start(scripts)), tops)
    if isinstance(chunks, list):
        out.chunks = {c.revision: c for c in chunks if c.revision in wanted}
        # a revision that renders nothing (a merge, `pass`) has no marker: an empty chunk
        out.chunks.update({rev: Chunk(rev) for rev in wanted - set(out.chunks)})
        return out
    # one cannot render: find which, one at a time
    for s in (s for s in scripts if s.revision in wanted):
        one = _try(config, script, independent(script, _downs(s)), [s.revision])
        if isinstance(one, str):
            out.errors[s.revision] = one
        else:
            out.chunks[s.revision] = next(
                (c for c in one if c.revision == s.revision), Chunk(s.revision)
            )
    return out


def _try(
    config: Config, script: ScriptDirectory, start: tuple[str, ...], tops: list[str]
) -> list[Chunk] | str:
    """The chunks, or why the revisions' own code raised offline."""
    try:
        return _render(config, script, start, tops)
    except Exception as exc:  # noqa: BLE001 - the team's revision code, run offline: any error is the finding
        return f"{type(exc).__name__}: {str(exc)[:300]}{_where(exc, script.dir)}"


def _where(exc: BaseException, script_dir: str) -> str:
    """` at versions/0007.py:12 (n = op.get_bind().execute(...).scalar())`: the revision's line that raised,
    usually the call that reads the database (offline `op.get_bind()` returns a mock whose execute() is None)."""
    root = os.path.realpath(script_dir)
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.realpath(f.filename).startswith(root) and not f.filename.endswith("env.py")
    ]
    if not frames:
        return ""
    frame = frames[-1]
    code = f" ({frame.line.strip()[:160]})" if frame.line else ""
    return f" at {os.path.relpath(frame.filename, root)}:{frame.lineno}{code}"


def _downs(s: Script) -> tuple[str, ...]:
    down = s.down_revision
    return () if down is None else (down,) if isinstance(down, str) else tuple(down)


def _range_start(scripts: Sequence[Script]) -> tuple[str, ...]:
    """The revisions the range starts from: parents of its members that are not members themselves."""
    members = {s.revision for s in scripts}
    starts: list[str] = []
    for s in scripts:
        for down in _downs(s):
            if down not in members and down not in starts:
                starts.append(down)
    return tuple(starts)


def independent(script: ScriptDirectory, revisions: tuple[str, ...]) -> tuple[str, ...]:
    """`revisions` without those that are ancestors of another one. A redundant merge (one parent is an
    ancestor of the other) lists both; as a starting point Alembic refuses the pair ("overlaps"), while the
    database it stands for is simply at the younger one."""
    if len(revisions) < 2:
        return revisions
    ancestors: set[str] = set()
    for rev in revisions:
        ancestors |= {
            s.revision for s in script.iterate_revisions(rev, "base") if s.revision != rev
        }
    return tuple(rev for rev in revisions if rev not in ancestors)


def runs_in_autocommit(config: Config, script: ScriptDirectory) -> bool:
    """Whether the project's revisions run in AUTOCOMMIT (env_py.autocommit_of): then no revision has a
    transaction, and the render (and so the gate) must not invent one."""
    from pathlib import Path

    from lambda_fn.engine.env_py import autocommit_of

    declared = (config.get_section("alembic_hook") or {}).get("autocommit")
    return autocommit_of(Path(script.env_py_location), declared)[0]


def render_sql(
    config: Config,
    script: ScriptDirectory,
    start: tuple[str, ...],
    destinations: list[str],
    *,
    version_table: str = VERSION_TABLE,
) -> str:
    """The whole upgrade script from `start` to `destinations`, in the hook's own offline context (env.py
    is not run): what `sql` shows and what the gate reviews."""
    buffer = io.StringIO()
    start = independent(script, start)
    destination = destinations[0] if len(destinations) == 1 else tuple(destinations)

    def steps(rev: Any, context: MigrationContext) -> Any:
        return script._upgrade_revs(destination, rev)  # type: ignore[arg-type]

    # `alembic.context` is installed for revisions that ask it (context.is_offline_mode() and the like)
    environment = EnvironmentContext(
        config,
        script,
        fn=steps,
        as_sql=True,
        starting_rev=list(start) or None,
        destination_rev=destination,
    )
    transactions = not runs_in_autocommit(config, script)
    with environment:
        environment.configure(
            url=OFFLINE_URL,
            literal_binds=True,
            transaction_per_migration=transactions,
            transactional_ddl=transactions,
            output_buffer=buffer,
            version_table=version_table,
        )
        with environment.begin_transaction():
            environment.run_migrations()
    return buffer.getvalue()


def _render(
    config: Config, script: ScriptDirectory, start: tuple[str, ...], destinations: list[str]
) -> list[Chunk]:
    return split(render_sql(config, script, start, destinations), VERSION_TABLE)

"""The Alembic side: the project's script directory, the database's revision, and running steps.

The engine applies one revision per `run_env()` so that each revision is its own transaction, is timed and
logged on its own, and a failure names exactly the revision that raised, whatever the project's env.py
does. The step lists come from Alembic itself (`ScriptDirectory._upgrade_revs`/`_downgrade_revs`/
`_stamp_revs`, exactly what `alembic.command` uses); that private surface is contained in this module.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection

from lambda_fn.contract import ErrorKind
from lambda_fn.engine import env_reads, heads_manifest
from lambda_fn.engine.env_py import EnvPlan, HookDatabase, StepsFn, autocommit_of, run_env
from lambda_fn.engine.locate import resolve_path
from lambda_fn.errors import HookError
from lambda_fn.request import is_heads

Heads = tuple[str, ...]


class AlembicProject:
    def __init__(self, config_file: str, script_location: str | None = None) -> None:
        path = resolve_path(config_file)
        if not path.is_file():
            raise HookError(
                ErrorKind.CONFIGURATION,
                f"Alembic config {path} not found; set ALEMBIC_CONFIG "
                "(CLI: --config) to the project's alembic.ini.",
            )
        self.output = io.StringIO()
        self.config = Config(file_=str(path), stdout=self.output)
        # env.py must not reconfigure logging: the hook's logger is already set up
        self.config.attributes["configure_logging"] = False
        if script_location:
            self.config.set_main_option("script_location", str(resolve_path(script_location)))
        self._heads: Heads | None = None
        self.plan: EnvPlan | None = None  # how env.py connects, once probed
        try:
            self.script = ScriptDirectory.from_config(self.config)
        except CommandError as exc:
            raise HookError(
                ErrorKind.CONFIGURATION,
                f"Alembic script directory: {exc}. script_location in "
                f"{path.name} is relative to the ini's folder when written as %(here)s/..., otherwise "
                "to the working directory; ALEMBIC_SCRIPT_LOCATION (CLI: the environment) overrides "
                "it.",
            ) from None

    # --- what the project holds -------------------------------------------------------------------

    @functools.cached_property
    def fingerprint(self) -> str:
        return heads_manifest.fingerprint(self.script._version_locations)

    @functools.cached_property
    def env_fingerprint(self) -> str:
        return heads_manifest.env_fingerprint(
            Path(self.script.dir) / "env.py", self.config.config_file_name or ""
        )

    def heads(self) -> Heads:
        """The heads, from the content-keyed index when it has them (no revision file imported)."""
        if self._heads is None:
            self._heads = heads_manifest.lookup(self.script.dir, self.fingerprint)
        if self._heads is None:
            try:
                self._heads = tuple(self.script.get_heads())
            except Exception as exc:  # noqa: BLE001 - a revision file that fails to import, a cycle, ...
                raise HookError(
                    ErrorKind.CONFIGURATION, f"Cannot read the migration scripts: {exc}"
                ) from None
            heads_manifest.remember(self.fingerprint, self._heads)
        return self._heads

    def import_all(self) -> int:
        """Import every revision file; the error names the one that fails."""
        try:
            return sum(1 for _ in self.script.walk_revisions())
        except Exception as exc:  # noqa: BLE001 - a revision file that fails to import, a cycle, ...
            raise HookError(
                ErrorKind.CONFIGURATION,
                f"Cannot read the migration scripts: {type(exc).__name__}: {exc}",
            ) from None

    def at_heads(self, current: Heads) -> bool:
        return bool(current) and set(current) == set(self.heads())

    def require_single_head(self) -> str:
        heads = self.require_revisions()
        if len(heads) != 1:
            raise HookError(
                ErrorKind.MULTIPLE_HEADS,
                f"The migrations have {len(heads)} heads ({', '.join(heads) or 'none'}); refusing to "
                "run. Join them with `alembic merge heads -m merge` and deploy that revision.",
            )
        return heads[0]

    def require_revisions(self) -> Heads:
        """The heads; a script directory without any revision is an error for every command that reads them
        (upgrade and lint say the same), never a vacuous success."""
        heads = self.heads()
        if not heads:
            raise HookError(
                ErrorKind.CONFIGURATION,
                f"The script directory {self.script.dir} holds no revisions (nothing under "
                f"{', '.join(str(p) for p in self.script._version_locations)}). Check script_location "
                "and version_locations in the ini, or create the first revision with "
                "`alembic revision -m ...`.",
            )
        return heads

    def get(self, revision: str) -> Script:
        try:
            script = self.script.get_revision(revision)
        except CommandError as exc:
            raise HookError(
                ErrorKind.BAD_REVISION, f"{exc}. `history` lists the known revisions."
            ) from None
        if script is None:
            raise HookError(ErrorKind.BAD_REVISION, f"{revision!r} is not a single revision.")
        return script

    def check_known(self, current: Heads) -> None:
        """Refuse a database stamped with a revision these migrations do not contain."""
        unknown = [rev for rev in current if not self.knows(rev)]
        if unknown:
            raise HookError(
                ErrorKind.UNKNOWN_DATABASE_REVISION,
                f"The database is at revision {', '.join(unknown)}, which these migrations do not "
                "contain: newer code probably migrated it and was then rolled back. Deploy code that "
                "contains it, or, if it was removed on purpose, `stamp` a known revision (reviewed, "
                "with confirmation).",
                revision=unknown[0],
            )

    def knows(self, revision: str) -> bool:
        if revision in self.heads():
            return True
        try:
            return self.script.get_revision(revision) is not None
        except CommandError:
            return False

    def resolve_target(self, target: str) -> str:
        if is_heads(target):
            return self.require_single_head()
        return self.get(target).revision

    def pending(self, current: Heads, target: str = "heads") -> list[Script]:
        """Revisions between the database and `target`, in the order they would apply."""
        if is_heads(target) and self.at_heads(current):
            return []  # the common deploy: nothing new, and no revision file needs importing
        try:
            return self.between(
                current, self.heads() if is_heads(target) else (self.resolve_target(target),)
            )
        except (CommandError, RevisionError):
            return []  # the database is past `target` or on another branch: nothing to apply towards it

    def between(self, current: Heads, upper: Heads) -> list[Script]:
        """The revisions above `current` up to `upper`, in the order they would apply (the pending range, and
        a lint range). Alembic's CommandError / RevisionError when `upper` is not above `current`."""
        lower: Any = current or "base"
        revs = [s for s in self.script.iterate_revisions(upper, lower) if s.revision not in current]
        return list(reversed(revs))

    def history(self, current: Heads) -> list[dict[str, Any]]:
        applied = (
            {s.revision for s in self.script.iterate_revisions(current, "base")}
            if current
            else set()
        )
        return [
            {
                "revision": s.revision,
                "down_revision": _ids(s.down_revision),
                "description": s.doc,
                "is_head": s.is_head,
                "is_current": s.revision in current,
                "applied": s.revision in applied,
            }
            for s in self.script.walk_revisions()
        ]

    # --- the database -----------------------------------------------------------------------------

    def probe(self, database: HookDatabase) -> EnvPlan:
        """Run env.py up to its context.configure() and stop: how it connects, which version table it uses.
        Refuses (env_py) an env.py that would migrate anything but the hook's database."""
        with env_reads.recorded() as reads:  # what env.py's answer depends on besides its files
            plan = run_env(
                self.config,
                self.script,
                database,
                lambda rev, ctx: [],
                destination=None,
                probe=True,
            )
        assert plan is not None  # run_env(probe=True) returns a plan or raises
        self.plan = plan
        # for the fast path's next run
        heads_manifest.remember_version_table(self.env_fingerprint, plan.versions, reads)
        return plan

    def current(self, conn: Connection) -> Heads:
        """The database's revision, read from the version table env.py uses."""
        opts = self.plan.version_opts if self.plan else {}
        heads = tuple(MigrationContext.configure(conn, opts=opts).get_current_heads())
        conn.commit()  # leave no transaction open: Alembic would treat it as external and not commit
        return heads

    def upgrade_steps(self, target: str, current: Heads) -> list[RevisionStep]:
        # Alembic's own annotation says str, but it takes the tuple of current heads `command.upgrade` passes
        return self._steps(lambda: self.script._upgrade_revs(target, current))  # type: ignore[arg-type]

    def downgrade_steps(self, target: str, current: Heads) -> list[RevisionStep]:
        return self._steps(lambda: self.script._downgrade_revs(target, current))  # type: ignore[arg-type]

    @staticmethod
    def _steps(make: Callable[[], list[RevisionStep]]) -> list[RevisionStep]:
        try:
            return make()
        except CommandError as exc:
            raise HookError(
                ErrorKind.BAD_REVISION, f"{exc}. `history` lists the known revisions."
            ) from None

    @property
    def env_py(self) -> Path:
        return Path(self.script.dir) / "env.py"

    @functools.cached_property
    def autocommit(self) -> tuple[bool, str]:
        """(runs in AUTOCOMMIT, why): see env_py.autocommit_of."""
        return autocommit_of(
            self.env_py, (self.config.get_section("alembic_hook") or {}).get("autocommit")
        )

    def run_steps(self, database: HookDatabase, steps: StepsFn, destination: str) -> None:
        """One run of the project's env.py over the steps `steps` hands Alembic, each revision in its own
        transaction (the hook sets `transaction_per_migration`), or in AUTOCOMMIT for a project that runs so."""
        run_env(
            self.config,
            self.script,
            database,
            steps,
            destination=destination,
            autocommit=self.autocommit[0],
        )
        # env.py ran it in an outer transaction of its own: commit it
        if database.conn.in_transaction():
            database.conn.commit()

    def stamp(self, database: HookDatabase, target: str, purge: bool) -> None:
        # with purge, Alembic empties the version table first and hands `rev` as (): an unknown current
        # revision is then no obstacle
        run_env(
            self.config,
            self.script,
            database,
            lambda rev, ctx: self.script._stamp_revs(target, rev),
            destination=target,
            purge=purge,
        )
        if database.conn.in_transaction():
            database.conn.commit()

    def offline_sql(self, start: Heads, target: str) -> str:
        """The SQL `upgrade` would run from `start` to `target`, rendered offline for review in the hook's own
        offline context (as the gate renders it): env.py is not run, so one without a usable offline branch
        (no URL, an engine built from the environment) does not matter."""
        from lambda_fn.engine.gate.render import render_sql

        destinations = list(self.heads()) if is_heads(target) else [self.resolve_target(target)]
        opts = self.plan.version_opts if self.plan else {}
        try:
            return render_sql(
                self.config,
                self.script,
                start,
                destinations,
                version_table=opts.get("version_table") or heads_manifest.DEFAULT_VERSION_TABLE,
            )
        except (CommandError, RevisionError) as exc:
            raise HookError(ErrorKind.BAD_REVISION, f"{exc}.") from None
        except Exception as exc:  # noqa: BLE001 - the team's revision code, run offline
            raise HookError(
                ErrorKind.MIGRATION_FAILED,
                f"A revision cannot be rendered offline ({type(exc).__name__}: "
                f"{str(exc)[:300]}); `lint` names which one.",
            ) from None


def _ids(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)

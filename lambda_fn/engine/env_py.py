"""Running the project's env.py so that whatever it does, the migration happens on the hook's database.

env.py is the team's code, and the common shapes differ: the cookbook pattern uses the connection the hook
passes in `config.attributes["connection"]`; some projects call `.engine` on it; the `alembic init` template
builds its own engine from `sqlalchemy.url`; others read a URL from an environment variable or use an async
driver. The hook meets all of them:

- it passes its connection, and sets `sqlalchemy.url` to a URL of the same database with the same TLS,
  bounds and application_name (`TargetDatabase.url`), so `engine_from_config(...)` reaches the right place;
- `HookEnvironment.configure` (what env.py's `context.configure(...)` calls) inspects what env.py passes. A
  connection or URL of the hook's own database is swapped for the hook's connection, so every revision runs
  in the hook's transaction, under its statement_timeout. Anything else (another host or database, SQLite, no
  connection at all) is refused with `env_py` before any SQL runs, naming env.py and the lines to change;
- `probe` runs env.py only up to that `configure` call and stops it there: it learns how env.py connects and
  which version table it uses (`version_table`, `version_table_schema`), and runs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import Credentials
from lambda_fn.engine.heads_manifest import DEFAULT_VERSION_TABLE, VersionTable
from lambda_fn.errors import HookError
from lambda_fn.log import logger, reenable

# what env.py's run_migrations() calls: (current heads, MigrationContext) -> the steps to run
StepsFn = Callable[[Any, MigrationContext], Iterable[MigrationStep]]

SYNC_SNIPPET = """\
def run_migrations_online() -> None:
    connection = config.attributes.get("connection")  # the hook's connection, when it runs you
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    ...  # your own engine, for plain `alembic` on a laptop"""

ASYNC_SNIPPET = """\
def run_migrations_online() -> None:
    connection = config.attributes.get("connection")  # the hook's (synchronous) connection
    if connection is not None:
        do_run_migrations(connection)  # no event loop, no async driver needed
        return
    asyncio.run(run_async_migrations())"""


@dataclass(frozen=True)
class EnvPlan:
    """What the probe learned about env.py."""

    connection: str  # how env.py reaches the hook's database, in words
    version_table: str = DEFAULT_VERSION_TABLE
    version_table_schema: str | None = None

    @property
    def version_opts(self) -> dict[str, Any]:
        return {
            "version_table": self.version_table,
            "version_table_schema": self.version_table_schema,
        }

    @property
    def versions(self) -> VersionTable:
        return VersionTable(self.version_table, self.version_table_schema)

    def to_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "version_table": self.version_table,
            "version_table_schema": self.version_table_schema,
        }


class _Probed(BaseException):
    """Not an Exception, so an env.py that catches Exception does not swallow it."""


@dataclass
class HookDatabase:
    """The hook's side of a run of env.py: its connection, the engine behind it, its credentials, the URL
    env.py may build its own engine from, and who hears of each step inside its transaction (the ledger)."""

    conn: Connection
    engine: Engine | None
    creds: Credentials
    url: Callable[[], URL]
    on_version_apply: Callable[[Any], None] | None = None

    def same_database(self, url: URL) -> bool:
        c = self.creds
        return (
            url.get_backend_name() == "postgresql"
            and url.host == c.host
            and (url.port or 5432) == c.port
            and url.database == c.database
            and url.username == c.username
        )


class HookEnvironment:
    """Alembic's EnvironmentContext, whose `configure` judges (and, for the hook's database, replaces) the
    connection env.py passes. The instance's own `configure` attribute is what Alembic's module proxy
    (`alembic.context.configure`) hands env.py, so no Alembic class is subclassed."""

    def __init__(
        self,
        config: Config,
        script: ScriptDirectory,
        database: HookDatabase,
        env_py: Path,
        *,
        probe: bool,
        autocommit: bool = False,
        **kw: Any,
    ) -> None:
        self.context = EnvironmentContext(config, script, **kw)
        self._configure = self.context.configure
        self.context.configure = self.configure  # type: ignore[method-assign, assignment]
        self.database = database
        self.env_py = env_py
        self.probe = probe
        self.autocommit = autocommit
        self.plan: EnvPlan | None = None

    def configure(
        self, connection: Connection | None = None, url: str | URL | None = None, **kw: Any
    ) -> None:
        reenable()  # env.py's fileConfig() ran before configure(): the revisions' progress must be logged
        how = self._judge(connection, url)
        self.plan = EnvPlan(
            how, kw.get("version_table") or DEFAULT_VERSION_TABLE, kw.get("version_table_schema")
        )
        if self.probe:
            raise _Probed
        if connection is not self.database.conn:
            logger.info(
                "env.py opened its own connection to the hook's database; the migration runs on the "
                "hook's connection",
                extra={"env_py": how},
            )
        kw.pop("dialect_name", None)
        kw.pop("dialect_opts", None)
        kw["transaction_per_migration"] = (
            True  # the hook's contract: each revision commits on its own
        )
        if self.autocommit:  # the project runs its migrations in AUTOCOMMIT (docs/real-projects.md)
            self.database.conn.execution_options(isolation_level="AUTOCOMMIT")
        kw["on_version_apply"] = self._on_version_apply(kw.get("on_version_apply"))
        self._configure(connection=self.database.conn, **kw)

    def _on_version_apply(self, theirs: Any) -> list[Callable[..., None]]:
        """env.py's own callbacks, then the hook's: Alembic calls them after each step's version-table update,
        inside the step's transaction."""
        callbacks = (
            list(theirs)
            if isinstance(theirs, list | tuple)
            else [theirs]
            if callable(theirs)
            else []
        )

        def hook(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
            if self.database.on_version_apply is not None:
                self.database.on_version_apply(step)

        return [*callbacks, hook]

    def _judge(self, connection: Connection | None, url: str | URL | None) -> str:
        db = self.database
        if connection is db.conn:
            return "the hook's connection (config.attributes['connection'])"
        if connection is not None:
            if db.engine is not None and connection.engine is db.engine:
                return "a connection of the hook's engine (config.attributes['connection'].engine)"
            if db.same_database(connection.engine.url):
                return "its own engine on the hook's database (sqlalchemy.url); the hook's connection is used"
            raise self._elsewhere(connection.engine.url)
        if url is not None:
            parsed = _parse(url)
            if parsed is not None and db.same_database(parsed):
                return (
                    "a URL of the hook's database (sqlalchemy.url); the hook's connection is used"
                )
            raise self._elsewhere(parsed)
        raise HookError(
            ErrorKind.ENV_PY,
            f"{self.env_py} called context.configure() without a connection or "
            f"URL, so the hook cannot tell what it would migrate. Use the hook's connection:\n"
            f"{snippet(self.env_py)}",
        )

    def _elsewhere(self, url: URL | None) -> HookError:
        where = url.render_as_string(hide_password=True) if url is not None else "an unreadable URL"
        return HookError(
            ErrorKind.ENV_PY,
            f"{self.env_py} configures Alembic with {where}, not the hook's database "
            f"{self.database.creds.describe()}; nothing was run. env.py builds its own engine (from an "
            "environment variable, another ini section or an async driver). Make it use the "
            f"connection the hook passes:\n{snippet(self.env_py)}",
        )


def run_env(
    config: Config,
    script: ScriptDirectory,
    database: HookDatabase,
    fn: StepsFn,
    *,
    destination: str | None,
    purge: bool = False,
    probe: bool = False,
    autocommit: bool = False,
) -> EnvPlan | None:
    """Run env.py with the hook's database attached; with `probe`, stop it at configure() and return what
    it would do. A failure before configure() is env.py's, and says so."""
    env_py = Path(script.dir) / "env.py"
    hook = HookEnvironment(
        config,
        script,
        database,
        env_py,
        probe=probe,
        autocommit=autocommit,
        fn=fn,
        as_sql=False,
        starting_rev=None,
        destination_rev=destination,
        purge=purge,
    )
    with _attached(config, database, autocommit=autocommit):
        try:
            with hook.context:
                script.run_env()
        except _Probed:
            return hook.plan
        except HookError:
            raise
        except Exception as exc:
            if hook.plan is not None:
                raise  # env.py configured the hook's database: this is the migration's failure
            raise _env_failure(env_py, exc, database.creds) from exc
        finally:
            reenable()
    if probe:
        raise HookError(
            ErrorKind.ENV_PY,
            f"{env_py} finished without calling context.configure(), so it would "
            f"migrate nothing. Use the hook's connection:\n{snippet(env_py)}",
        )
    return hook.plan


def probe_offline(config: Config, script: ScriptDirectory) -> VersionTable | None:
    """Build time, no database: the version table env.py names when it configures offline (`alembic upgrade
    --sql`). None when env.py cannot run offline; the full path then probes online at run time."""
    recorded: list[VersionTable] = []

    def configure(*args: Any, **kw: Any) -> None:
        recorded.append(
            VersionTable(
                kw.get("version_table") or DEFAULT_VERSION_TABLE, kw.get("version_table_schema")
            )
        )
        raise _Probed

    context = EnvironmentContext(
        config, script, fn=lambda rev, ctx: [], as_sql=True, starting_rev=None, destination_rev=None
    )
    context.configure = configure  # type: ignore[method-assign]
    try:
        with context:
            script.run_env()
    except _Probed:
        pass
    except Exception:  # noqa: BLE001 - an env.py that cannot run offline: no build-time answer
        return None
    finally:
        reenable()
    return recorded[0] if recorded else None


@contextmanager
def _attached(
    config: Config, database: HookDatabase, *, autocommit: bool = False
) -> Iterator[None]:
    conn = database.conn
    # Some projects (jupyterhub) hand env.py an Engine in config.attributes["connection"] and env.py calls
    # `.connect()` on it, as SQLAlchemy 1.x let a Connection do: that gives the hook's connection itself
    conn.connect = lambda: _same(conn)  # type: ignore[attr-defined]
    config.attributes["connection"] = conn
    # ConfigParser interpolates %: a percent-encoded password must survive it
    config.set_main_option(
        "sqlalchemy.url", database.url().render_as_string(hide_password=False).replace("%", "%%")
    )
    try:
        yield
    finally:
        config.attributes.pop("connection", None)
        config.set_main_option("sqlalchemy.url", "")
        conn.__dict__.pop("connect", None)
        if autocommit:
            if conn.in_transaction():
                conn.rollback()  # AUTOCOMMIT: nothing is pending in it
            conn.execution_options(isolation_level=conn.default_isolation_level or "READ COMMITTED")


@contextmanager
def _same(conn: Connection) -> Iterator[Connection]:
    yield conn  # closing it is the hook's business, not env.py's


def _env_failure(env_py: Path, exc: BaseException, creds: Credentials) -> HookError:
    if snippet(env_py) == ASYNC_SNIPPET:
        # the reason, not the symptom: what an async engine raises here depends on the process (greenlet
        # missing, a half-imported module, a sync driver), and check and upgrade must say the same
        return HookError(
            ErrorKind.ENV_PY,
            f"{env_py} runs Alembic through an async engine (the `-t async` "
            "template); the hook migrates over its own synchronous connection, so nothing ran. "
            f"Make env.py use the connection the hook passes:\n{ASYNC_SNIPPET}",
        )
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400]
    if creds.password:
        text = text.replace(creds.password, "***")
    return HookError(
        ErrorKind.ENV_PY,
        f"{env_py} failed before it configured Alembic ({text}); no revision ran. "
        "The migrations are not the problem: env.py could not connect the way the hook runs it. "
        f"Use the connection the hook passes:\n{snippet(env_py)}",
    )


# env.py builds its engine or connection with AUTOCOMMIT (engine_from_config(..., isolation_level="AUTOCOMMIT"),
# connection.execution_options(isolation_level="AUTOCOMMIT"))
_AUTOCOMMIT = re.compile(r"""isolation_level\s*=\s*["']AUTOCOMMIT["']""")


def autocommit_of(env_py: Path, declared: str | None) -> tuple[bool, str]:
    """Whether the project runs its migrations in AUTOCOMMIT, and why the hook thinks so. The ini's
    `[alembic_hook] autocommit = true|false` decides when present; otherwise env.py's own engine options."""
    if declared is not None:
        value = declared.strip().lower()
        if value not in ("true", "false"):
            raise HookError(
                ErrorKind.CONFIGURATION,
                f"[alembic_hook] autocommit = {declared!r}: write true or false.",
            )
        return value == "true", "[alembic_hook] autocommit in the ini"
    try:
        source = env_py.read_text()
    except OSError:
        return False, ""
    found = _AUTOCOMMIT.search(source)
    return (True, f'{env_py} sets isolation_level="AUTOCOMMIT"') if found else (False, "")


def snippet(env_py: Path) -> str:
    try:
        source = env_py.read_text()
    except OSError:
        source = ""
    return (
        ASYNC_SNIPPET
        if re.search(r"\basync_engine_from_config\b|\basyncio\b", source)
        else SYNC_SNIPPET
    )


def _parse(url: str | URL) -> URL | None:
    try:
        return make_url(url)
    except ArgumentError:
        return None

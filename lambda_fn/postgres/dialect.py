"""SQLAlchemy over pg8000 for Alembic: the fixed dialect, the engine whose connections carry the run's TLS
and bounds, and the URL that gives a project's own `engine_from_config(...)` exactly the same connection.

`postgresql+pg8000_hook://user:pw@host/db?sslmode=verify-full&sslrootcert=...&lock_timeout=5000ms` is also a
SQLAlchemy entry point (pyproject.toml), so plain `alembic` gets libpq's sslmode meaning and the fix below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pg8000.dbapi
import sqlalchemy
from sqlalchemy import URL, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

from lambda_fn.credentials import Credentials
from lambda_fn.postgres import sessions
from lambda_fn.postgres.connect import KEEPALIVES, MAX_APPLICATION_NAME, SOCKET_SLACK, connect_kwargs
from lambda_fn.postgres.errors import classify
from lambda_fn.postgres.tls import ssl_context

NAME = "pg8000_hook"
DRIVER = f"postgresql+{NAME}"
# URL query parameters sent to the server in the startup packet
STARTUP_PARAMETERS = frozenset({"lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout",
                                "idle_session_timeout", "transaction_timeout", *KEEPALIVES})


class HookPg8000Dialect(PGDialect_pg8000):
    """pg8000 with two fixes.

    - It leaves the transaction pg8000 opened for SQLAlchemy's isolation-level probe before switching to
      AUTOCOMMIT. Without this, Alembic's `autocommit_block()` runs CREATE INDEX CONCURRENTLY inside that
      transaction and PostgreSQL refuses it (25001).
    - A URL carries libpq's `sslmode`/`sslrootcert` (verify-full when absent; pg8000's own default falls back
      to plaintext without verifying) and server settings for the startup packet.
    """

    supports_statement_cache = True

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        if str(level).replace("_", " ") == "AUTOCOMMIT" and dbapi_connection._in_transaction:
            dbapi_connection.commit()
        super().set_isolation_level(dbapi_connection, level)  # type: ignore[no-untyped-call]

    def create_connect_args(self, url: URL) -> Any:
        args, opts = super().create_connect_args(url)  # type: ignore[no-untyped-call]
        opts = {key: value[-1] if isinstance(value, tuple) else value for key, value in opts.items()}
        opts["ssl_context"] = ssl_context(str(opts.pop("sslmode", "verify-full")), opts.pop("sslrootcert", None))
        startup = {key: str(opts.pop(key)) for key in list(opts) if key in STARTUP_PARAMETERS}
        if startup:
            opts["startup_params"] = startup
        if "timeout" in opts:
            opts["timeout"] = float(opts["timeout"])
        return args, opts


registry.register(f"postgresql.{NAME}", __name__, HookPg8000Dialect.__name__)


def make_engine(creds: Credentials, *, startup: Callable[[], tuple[dict[str, str], float]],
                application_name: str) -> sqlalchemy.Engine:
    """An engine whose every connection carries the bounds; NullPool because each run is short and a
    Lambda environment may freeze for hours between invocations. `startup` is asked at each connect for the
    startup parameters and the statement timeout they hold, so the session defaults (what a migration's RESET
    returns to) are never beyond the time left."""

    def creator() -> Any:
        params, statement_timeout = startup()
        kwargs = connect_kwargs(creds, timeout=statement_timeout + SOCKET_SLACK, application_name=application_name,
                                startup=params)
        try:
            conn = pg8000.dbapi.connect(**kwargs)
        except Exception as exc:  # noqa: BLE001 - classified, re-raised as HookError
            raise classify(exc, creds, connecting=True) from None
        sessions.register(conn, creds, application_name)  # a watched run's watchdog can end it
        return conn

    return sqlalchemy.create_engine(f"{DRIVER}://", creator=creator, poolclass=pool.NullPool)


def hook_url(creds: Credentials, *, application_name: str, startup: dict[str, str], timeout: float) -> URL:
    """A URL that connects exactly like `make_engine`'s connections: what a project's env.py gets as
    `sqlalchemy.url`. It holds the password: render it only with `hide_password` (SQLAlchemy's default)."""
    query = {"sslmode": creds.sslmode, "application_name": application_name[:MAX_APPLICATION_NAME],
             "timeout": f"{timeout:g}", **startup}
    if creds.sslrootcert:
        query["sslrootcert"] = creds.sslrootcert
    return URL.create(DRIVER, username=creds.username, password=creds.password, host=creds.host, port=creds.port,
                      database=creds.database, query=query)

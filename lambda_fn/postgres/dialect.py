"""SQLAlchemy over pg8000 for Alembic: the fixed dialect, the engine whose connections carry the run's TLS
and bounds, and the URL that gives a project's own `engine_from_config(...)` exactly the same connection.

`postgresql+pg8000_hook://user:pw@host/db?sslmode=verify-full&sslrootcert=...&lock_timeout=5000ms` is also a
SQLAlchemy entry point (pyproject.toml), so plain `alembic` gets libpq's sslmode meaning and the fix below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pg8000.dbapi
import pg8000.native
import sqlalchemy
from sqlalchemy import URL, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000
from sqlalchemy.engine.interfaces import BindTyping

from lambda_fn.credentials import Credentials
from lambda_fn.postgres import sessions
from lambda_fn.postgres.connect import (
    KEEPALIVES,
    MAX_APPLICATION_NAME,
    SOCKET_SLACK,
    connect_kwargs,
)
from lambda_fn.postgres.errors import classify
from lambda_fn.postgres.tls import ssl_context

NAME = "pg8000_hook"
DRIVER = f"postgresql+{NAME}"
# URL query parameters sent to the server in the startup packet
STARTUP_PARAMETERS = frozenset(
    {
        "lock_timeout",
        "statement_timeout",
        "idle_in_transaction_session_timeout",
        "idle_session_timeout",
        "transaction_timeout",
        *KEEPALIVES,
    }
)


class HookPg8000Dialect(PGDialect_pg8000):
    """pg8000 with three fixes.

    - It leaves the transaction pg8000 opened for SQLAlchemy's isolation-level probe before switching to
      AUTOCOMMIT. Without this, Alembic's `autocommit_block()` runs CREATE INDEX CONCURRENTLY inside that
      transaction and PostgreSQL refuses it (25001).
    - A URL carries libpq's `sslmode`/`sslrootcert` (verify-full when absent; pg8000's own default falls back
      to plaintext without verifying) and server settings for the startup packet.
    - Parameters behave like psycopg2's, which is what migrations are written and tested against: no bind
      casts in the SQL (`%s`, not `%s::VARCHAR`, so `SET int_col = '0'` is inferred as integer) and values
      sent as SQL literals in the statement, not as typed or untyped protocol parameters (so
      `json_build_object('k', 'v')` resolves its arguments as text the way a literal does, where an untyped
      `$1` is 42P18). Only values with a literal form exactly like psycopg2's are inlined; any other value
      (a driver-specific object) goes as a protocol parameter, as pg8000 would send it.
    """

    supports_statement_cache = True
    bind_typing = BindTyping.NONE

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        inlined = inline_parameters(statement, parameters)
        if inlined is None:
            cursor.execute(statement, parameters)
        else:
            cursor.execute(inlined)

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        rows = [inline_parameters(statement, row) for row in parameters]
        if any(row is None for row in rows):
            cursor.executemany(statement, parameters)
            return
        for row in rows:
            cursor.execute(row)

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        if str(level).replace("_", " ") == "AUTOCOMMIT" and dbapi_connection._in_transaction:
            dbapi_connection.commit()
        super().set_isolation_level(dbapi_connection, level)  # type: ignore[no-untyped-call]

    def create_connect_args(self, url: URL) -> Any:
        args, opts = super().create_connect_args(url)  # type: ignore[no-untyped-call]
        opts = {
            key: value[-1] if isinstance(value, tuple) else value for key, value in opts.items()
        }
        opts["ssl_context"] = ssl_context(
            str(opts.pop("sslmode", "verify-full")), opts.pop("sslrootcert", None)
        )
        startup = {key: str(opts.pop(key)) for key in list(opts) if key in STARTUP_PARAMETERS}
        if startup:
            opts["startup_params"] = startup
        if "timeout" in opts:
            opts["timeout"] = float(opts["timeout"])
        return args, opts


def sql_literal(value: Any) -> str | None:  # noqa: PLR0911 - one return per kind of value
    """`value` as the SQL literal psycopg2 would write for it, or None when it has no such form here."""
    match value:
        case (
            None
            | bool()
            | int()
            | Decimal()
            | bytes()
            | bytearray()
            | datetime()
            | date()
            | time()
            | timedelta()
        ):
            return str(pg8000.native.literal(value))
        case float():
            # psycopg2: 'NaN'::float
            return repr(value) if math.isfinite(value) else f"'{value!r}'::float"
        case str() if "\x00" not in value:
            quoted = value.replace("'", "''")
            # E'' with doubled backslashes means the same whatever standard_conforming_strings says
            return f"E'{quoted.replace(chr(92), chr(92) * 2)}'" if "\\" in value else f"'{quoted}'"
        case UUID():
            return f"'{value}'::uuid"
        case list():
            items = [sql_literal(item) for item in value]
            if not value or any(item is None for item in items):
                return (
                    None  # psycopg2 writes '{}' for [], typed by context: leave those to the server
                )
            return f"ARRAY[{', '.join(str(i) for i in items)}]"
    return None


def inline_parameters(statement: str, parameters: Any) -> str | None:
    """The statement with its positional `%s` parameters written in as literals (and `%%` as `%`), as
    psycopg2 does client-side; None when there are none, or one has no literal form. The statement is read
    exactly as pg8000 reads a "format" statement (dbapi.convert_paramstyle): placeholders only outside
    quotes, quoted identifiers, dollar quotes and comments."""
    if not parameters or not isinstance(parameters, Sequence) or isinstance(parameters, str):
        return None
    literals = [sql_literal(value) for value in parameters]
    if any(lit is None for lit in literals):
        return None
    return _substitute(statement, [str(lit) for lit in literals])


_ENTER = {"'": "sq", '"': "qi"}
_LEAVE = {"sq": "'", "qi": '"', "es": "'"}


def _substitute(statement: str, literals: list[str]) -> str | None:
    out: list[str] = []
    values = iter(literals)
    state, i, n, used = "", 0, len(statement), 0
    while i < n:
        c, nxt = statement[i], statement[i + 1] if i + 1 < n else ""
        prev = statement[i - 1] if i else ""
        if not state:
            if c == "%" and nxt in ("%", "s"):
                used += nxt == "s"
                out.append("%" if nxt == "%" else next(values, ""))
                i += 2
                continue
            if c in _ENTER:
                state = "es" if c == "'" and prev == "E" else _ENTER[c]
            elif (c == "-" and prev == "-") or (c == "$" and prev == "$"):
                state = "co" if c == "-" else "dq"
        elif (state == "co" and c == "\n") or (state == "dq" and c == "$" and prev == "$"):
            state = ""
        elif state in _LEAVE and c == _LEAVE[state]:
            if state == "sq" and nxt == "'":  # '' inside a string
                out.append("''")
                i += 2
                continue
            if not (state == "es" and prev == "\\"):
                state = ""
        out.append(c)
        i += 1
    # a count that does not match: pg8000 judges it
    return "".join(out) if used == len(literals) else None


registry.register(f"postgresql.{NAME}", __name__, HookPg8000Dialect.__name__)


def make_engine(
    creds: Credentials,
    *,
    startup: Callable[[], tuple[dict[str, str], float]],
    application_name: str,
) -> sqlalchemy.Engine:
    """An engine whose every connection carries the bounds; NullPool because each run is short and a
    Lambda environment may freeze for hours between invocations. `startup` is asked at each connect for the
    startup parameters and the statement timeout they hold, so the session defaults (what a migration's RESET
    returns to) are never beyond the time left."""

    def creator() -> Any:
        params, statement_timeout = startup()
        kwargs = connect_kwargs(
            creds,
            timeout=statement_timeout + SOCKET_SLACK,
            application_name=application_name,
            startup=params,
        )
        try:
            conn = pg8000.dbapi.connect(**kwargs)
        except Exception as exc:  # noqa: BLE001 - classified, re-raised as HookError
            raise classify(exc, creds, connecting=True) from None
        sessions.register(conn, creds, application_name)  # a watched run's watchdog can end it
        return conn

    return sqlalchemy.create_engine(f"{DRIVER}://", creator=creator, poolclass=pool.NullPool)


def hook_url(
    creds: Credentials, *, application_name: str, startup: dict[str, str], timeout: float
) -> URL:
    """A URL that connects exactly like `make_engine`'s connections: what a project's env.py gets as
    `sqlalchemy.url`. It holds the password: render it only with `hide_password` (SQLAlchemy's default)."""
    query = {
        "sslmode": creds.sslmode,
        "application_name": application_name[:MAX_APPLICATION_NAME],
        "timeout": f"{timeout:g}",
        **startup,
    }
    if creds.sslrootcert:
        query["sslrootcert"] = creds.sslrootcert
    return URL.create(
        DRIVER,
        username=creds.username,
        password=creds.password,
        host=creds.host,
        port=creds.port,
        database=creds.database,
        query=query,
    )

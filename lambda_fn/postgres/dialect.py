"""SQLAlchemy over pg8000 for Alembic: the fixed dialect, and the engine whose connections carry the run's
TLS and bounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pg8000.dbapi
import sqlalchemy
from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

from lambda_fn.credentials import Credentials
from lambda_fn.postgres.connect import SOCKET_SLACK, connect_kwargs, session_bounds
from lambda_fn.postgres.errors import classify

NAME = "pg8000_hook"


class HookPg8000Dialect(PGDialect_pg8000):
    """pg8000 dialect that leaves the transaction pg8000 opened for SQLAlchemy's isolation-level probe
    before switching to AUTOCOMMIT. Without this, Alembic's `autocommit_block()` runs
    CREATE INDEX CONCURRENTLY inside that transaction and PostgreSQL refuses it (25001)."""

    supports_statement_cache = True

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        if str(level).replace("_", " ") == "AUTOCOMMIT" and dbapi_connection._in_transaction:
            dbapi_connection.commit()
        super().set_isolation_level(dbapi_connection, level)  # type: ignore[no-untyped-call]


registry.register(f"postgresql.{NAME}", __name__, HookPg8000Dialect.__name__)


def make_engine(creds: Credentials, *, statement_timeout: Callable[[], float], lock_timeout: float,
                application_name: str) -> sqlalchemy.Engine:
    """An engine whose every connection carries the bounds; NullPool because each run is short and a
    Lambda environment may freeze for hours between invocations. `statement_timeout` is asked at each
    connect, so the session default (what a migration's RESET returns to) is never beyond the time left."""

    def creator() -> Any:
        seconds = statement_timeout()
        kwargs = connect_kwargs(creds, timeout=seconds + SOCKET_SLACK, application_name=application_name,
                                startup=session_bounds(lock_timeout=lock_timeout, statement_timeout=seconds))
        try:
            return pg8000.dbapi.connect(**kwargs)
        except Exception as exc:  # noqa: BLE001 - classified, re-raised as HookError
            raise classify(exc, creds, connecting=True) from None

    return sqlalchemy.create_engine(f"postgresql+{NAME}://", creator=creator, poolclass=pool.NullPool)

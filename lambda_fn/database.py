"""PostgreSQL over pg8000: TLS with libpq's meaning, server-side timeouts, readiness, error kinds.

Everything that knows pg8000 or SQLSTATEs lives here; the migrator sees `HookError`s with kinds.
"""

from __future__ import annotations

import math
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pg8000.dbapi
import pg8000.native
import sqlalchemy
from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

from lambda_fn.credentials import Credentials
from lambda_fn.deadline import Deadline
from lambda_fn.errors import ErrorKind, HookError
from lambda_fn.log import logger

# SQLSTATEs that decide what a failure means
AUTH_FAILED = {"28P01", "28000"}
DATABASE_MISSING = "3D000"
NOT_READY = {"57P03", "53300", "08006", "08001"}  # starting up / too many connections / connection failure
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
TERMINATED = {"57P01", "57P02", "57P05"}

PROBE_TIMEOUT = 5.0  # one connection attempt while waiting for the database
SOCKET_SLACK = 30.0  # client-side read timeout beyond the server-side statement timeout


def ssl_context(creds: Credentials) -> ssl.SSLContext | bool:
    """The pg8000 `ssl_context` for a libpq sslmode (pg8000's own default would silently fall back to
    plaintext and never verify)."""
    mode = creds.sslmode
    if mode == "disable":
        return False
    cafile = None if creds.sslrootcert in (None, "system") else creds.sslrootcert
    try:
        ctx = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise HookError(ErrorKind.TLS, f"Cannot load the CA bundle {cafile!r} (DB_SSLROOTCERT/sslrootcert): "
                        f"{exc}. Point it at the RDS CA bundle shipped with the function.") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == "verify-full":
        return ctx
    ctx.check_hostname = False
    # libpq: `require` with a root certificate present behaves like verify-ca
    if mode == "require" and cafile is None:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect_kwargs(creds: Credentials, *, timeout: float, application_name: str,
                   startup: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "user": creds.username, "password": creds.password, "host": creds.host, "port": creds.port,
        "database": creds.database, "ssl_context": ssl_context(creds),
        "timeout": None if math.isinf(timeout) else timeout, "application_name": application_name[:63],
        "startup_params": startup or {},
    }


def session_settings(lock_timeout: float, statement_timeout: float) -> dict[str, str]:
    """Sent in the startup packet, so they are the session's defaults: a migration's RESET returns to them."""
    return {"lock_timeout": f"{max(1, int(lock_timeout * 1000))}ms",
            "statement_timeout": f"{max(1, int(statement_timeout * 1000))}ms"}


class _Dialect(PGDialect_pg8000):
    """pg8000 dialect that leaves the transaction pg8000 opened for SQLAlchemy's isolation-level probe
    before switching to AUTOCOMMIT. Without this, Alembic's `autocommit_block()` runs
    CREATE INDEX CONCURRENTLY inside that transaction and PostgreSQL refuses it (25001)."""

    supports_statement_cache = True

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        if str(level).replace("_", " ") == "AUTOCOMMIT" and dbapi_connection._in_transaction:
            dbapi_connection.commit()
        super().set_isolation_level(dbapi_connection, level)  # type: ignore[no-untyped-call]


_DIALECT = "pg8000_hook"
registry.register(f"postgresql.{_DIALECT}", __name__, "_Dialect")


def make_engine(creds: Credentials, *, statement_timeout: Callable[[], float], lock_timeout: float,
                application_name: str) -> sqlalchemy.Engine:
    """An engine whose every connection carries the timeouts; NullPool because each run is short and a
    Lambda environment may freeze for hours between invocations. `statement_timeout` is asked at each
    connect, so the session default (what a migration's RESET returns to) is never beyond the time left."""

    def creator() -> Any:
        seconds = statement_timeout()
        kwargs = connect_kwargs(creds, timeout=seconds + SOCKET_SLACK, application_name=application_name,
                                startup=session_settings(lock_timeout, seconds))
        try:
            return pg8000.dbapi.connect(**kwargs)
        except Exception as exc:  # noqa: BLE001 - classified, re-raised as HookError
            raise classify(exc, creds, connecting=True) from None

    return sqlalchemy.create_engine(f"postgresql+{_DIALECT}://", creator=creator, poolclass=pool.NullPool)


def wait_until_ready(creds: Credentials, *, wait: float, deadline: Deadline, application_name: str,
                     on_auth_failure: Callable[[], Credentials] | None = None,
                     create_database: bool = False) -> Credentials:
    """Connect with backoff until the database answers, within `wait` seconds (and the deadline).

    Only "not ready yet" is retried. A wrong password fails at once, after one re-read of the secret
    (it may just have rotated); a TLS failure fails at once. Returns the credentials that worked.
    """
    bound = Deadline(deadline.bound(wait))
    delay, attempt, reread = 0.25, 0, False
    while True:
        attempt += 1
        try:
            conn = pg8000.native.Connection(**connect_kwargs(
                creds, timeout=max(0.5, bound.bound(PROBE_TIMEOUT)), application_name=application_name))
            conn.close()
            if attempt > 1:
                logger.info("Database is ready", extra={"attempts": attempt, "database": creds.describe()})
            return creds
        except Exception as exc:  # noqa: BLE001 - classified below
            error = classify(exc, creds, connecting=True)
        if error.kind is ErrorKind.AUTHENTICATION and on_auth_failure and not reread:
            logger.warning("Authentication failed; re-reading the secret once in case it rotated")
            creds, reread = on_auth_failure(), True
            continue
        if error.kind is ErrorKind.DATABASE_MISSING and create_database:
            create_missing_database(creds, application_name=application_name, timeout=bound.bound(PROBE_TIMEOUT))
            create_database = False
            continue
        if error.kind is not ErrorKind.UNREACHABLE:
            raise error
        if bound.remaining() <= 0.05:
            raise HookError(ErrorKind.UNREACHABLE, f"The database {creds.describe()} did not answer within "
                            f"{wait:g} s ({attempt} attempts; last: {error.message}). Check the host, that the "
                            "function's security group may reach it on its port, and that it is running.")
        logger.info("Database not ready; retrying", extra={"attempt": attempt, "reason": error.message,
                                                          "retry_in_s": round(delay, 2)})
        time.sleep(min(delay, bound.remaining()))  # backoff between attempts, not synchronisation
        delay = min(delay * 2, 5.0)


def create_missing_database(creds: Credentials, *, application_name: str, timeout: float) -> None:
    """CREATE DATABASE through the maintenance database (opt-in: CREATE_DATABASE=true)."""
    maintenance = replace(creds, database="postgres")
    try:
        conn = pg8000.native.Connection(**connect_kwargs(maintenance, timeout=max(1.0, timeout),
                                                         application_name=application_name))
    except Exception as exc:  # noqa: BLE001
        raise classify(exc, maintenance, connecting=True) from None
    try:
        exists = conn.run("SELECT 1 FROM pg_database WHERE datname = :name", name=creds.database)
        if not exists:
            conn.run(f"CREATE DATABASE {pg8000.native.identifier(creds.database)}")
            logger.info("Created database", extra={"database": creds.database})
    except pg8000.native.DatabaseError as exc:
        if _sqlstate(exc) != "42P04":  # created by a concurrent run: fine
            raise HookError(ErrorKind.DATABASE_MISSING, f"Database {creds.database!r} does not exist and could "
                            f"not be created: {_pg_message(exc)}. Create it, or grant CREATEDB.") from None
    finally:
        conn.close()


def classify(  # noqa: PLR0911 - one branch per failure kind
    exc: BaseException, creds: Credentials | None = None, *, connecting: bool = False,
             revision: str | None = None) -> HookError:
    """Turn a driver/SQLAlchemy exception into a HookError whose message says what to do."""
    if isinstance(exc, HookError):
        return exc
    orig = getattr(exc, "orig", None) or exc
    where = creds.describe() if creds else "the database"
    code = _sqlstate(orig)
    message = _pg_message(orig)
    if creds and creds.password and creds.password in message:
        message = message.replace(creds.password, "***")
    if code in AUTH_FAILED:
        return HookError(ErrorKind.AUTHENTICATION, f"PostgreSQL refused the credentials for {where} ({message}). "
                         "Check the secret's username/password; after a rotation wait for it to finish.")
    if code == DATABASE_MISSING:
        return HookError(ErrorKind.DATABASE_MISSING, f"Database {creds.database if creds else ''!r} does not "
                         f"exist on {where}. Create it, or set CREATE_DATABASE=true to let the hook create it.")
    if code == LOCK_NOT_AVAILABLE:
        return HookError(ErrorKind.LOCK_TIMEOUT, f"Timed out waiting for a table lock ({message}).", revision)
    if code == QUERY_CANCELED:
        return HookError(ErrorKind.STATEMENT_TIMEOUT, f"A statement was cancelled by statement_timeout "
                         f"({message}). Raise DB_STATEMENT_TIMEOUT_SECONDS and the function timeout, or split "
                         "the migration.", revision)
    if code in TERMINATED:
        return HookError(ErrorKind.CONNECTION_LOST, f"The server ended the connection ({message}).", revision)
    if code in NOT_READY:
        return HookError(ErrorKind.UNREACHABLE, message)
    ssl_error = _find(orig, ssl.SSLError)
    if ssl_error is not None or "refuses SSL" in message:
        detail = getattr(ssl_error, "verify_message", None) or message
        return HookError(ErrorKind.TLS, f"TLS to {where} failed ({detail}). With sslmode verify-full the "
                         "certificate must chain to DB_SSLROOTCERT and name the host you connect to; use the "
                         "RDS endpoint name and the RDS CA bundle.")
    if isinstance(orig, pg8000.dbapi.InterfaceError) or _find(orig, OSError) is not None:
        if connecting:
            return HookError(ErrorKind.UNREACHABLE, f"cannot connect to {where}: {message}")
        return HookError(ErrorKind.CONNECTION_LOST, f"Lost the connection to {where} ({message}).", revision)
    if code:
        return HookError(ErrorKind.MIGRATION_FAILED, f"PostgreSQL error {code}: {message}", revision)
    return HookError(ErrorKind.MIGRATION_FAILED if revision else ErrorKind.INTERNAL,
                     f"{type(orig).__name__}: {message}", revision)


def _find(exc: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _sqlstate(exc: BaseException) -> str | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        code = args[0].get("C")
        return str(code) if code else None
    return None


def _pg_message(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        return str(args[0].get("M", ""))[:500]
    text = str(exc).split("\n[SQL:")[0]  # SQLAlchemy appends the statement; keep the reason
    if isinstance(exc, socket.gaierror):
        return f"host name does not resolve ({text})"
    return text[:500]

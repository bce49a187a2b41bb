"""Driver and server failures -> `HookError`s whose kind a caller can act on. Only this module reads
SQLSTATEs."""

from __future__ import annotations

import socket
import ssl

import pg8000.dbapi

from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import Credentials
from lambda_fn.errors import HookError

AUTH_FAILED = {"28P01", "28000"}
DATABASE_MISSING = "3D000"
# starting up / too many connections / connection failure
NOT_READY = {
    "57P03",
    "53300",
    "08006",
    "08001",
}
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
TERMINATED = {"57P01", "57P02", "57P05"}
DUPLICATE_DATABASE = "42P04"
NOT_IN_TRANSACTION_BLOCK = "25001"  # e.g. CREATE INDEX CONCURRENTLY inside a transaction
# how a value's type shows when a driver types parameters differently from psycopg2
DRIVER_TYPING = {"42804", "42P18", "42883", "42725", "22P02"}
DRIVER_NOTE = (
    "If stock `alembic upgrade` over psycopg2 runs this revision, the cause is a driver difference, "
    "not the migration: the hook runs pg8000 with psycopg2's parameter handling (literals, no bind "
    "casts); report the statement to the hook's maintainers."
)
AUTOCOMMIT_NOTE = (
    "This statement cannot run inside a transaction: wrap it in `with "
    "op.get_context().autocommit_block():` in the revision, or, if the project runs its migrations "
    "with AUTOCOMMIT, declare it (`[alembic_hook] autocommit = true` in alembic.ini, see "
    "docs/real-projects.md)."
)


def classify(  # noqa: PLR0911 - one branch per failure kind
    exc: BaseException,
    creds: Credentials | None = None,
    *,
    connecting: bool = False,
    revision: str | None = None,
) -> HookError:
    """Turn a driver/SQLAlchemy exception into a HookError whose message says what to do."""
    if isinstance(exc, HookError):
        return exc
    orig = getattr(exc, "orig", None) or exc
    where = creds.describe() if creds else "the database"
    code = sqlstate(orig)
    message = pg_message(orig)
    if creds and creds.password and creds.password in message:
        message = message.replace(creds.password, "***")
    if code in AUTH_FAILED:
        return HookError(
            ErrorKind.AUTHENTICATION,
            f"PostgreSQL refused the credentials for {where} ({message}). "
            "Check the secret's username/password; after a rotation wait for it to finish.",
        )
    if code == DATABASE_MISSING:
        return HookError(
            ErrorKind.DATABASE_MISSING,
            f"Database {creds.database if creds else ''!r} does not "
            f"exist on {where}. Create it, or set CREATE_DATABASE=true to let the hook create it.",
        )
    if code == LOCK_NOT_AVAILABLE:
        return HookError(
            ErrorKind.LOCK_TIMEOUT, f"Timed out waiting for a table lock ({message}).", revision
        )
    if code == QUERY_CANCELED:
        return HookError(
            ErrorKind.STATEMENT_TIMEOUT,
            f"A statement was cancelled by statement_timeout "
            f"({message}). Raise DB_STATEMENT_TIMEOUT_SECONDS and the function timeout, or split "
            "the migration.",
            revision,
        )
    if code in TERMINATED:
        return HookError(
            ErrorKind.CONNECTION_LOST, f"The server ended the connection ({message}).", revision
        )
    if code in NOT_READY:
        return HookError(ErrorKind.UNREACHABLE, message)
    ssl_error = _find(orig, ssl.SSLError)
    if ssl_error is not None or "refuses SSL" in message:
        detail = getattr(ssl_error, "verify_message", None) or message
        return HookError(
            ErrorKind.TLS,
            f"TLS to {where} failed ({detail}). With sslmode verify-full the "
            "certificate must chain to DB_SSLROOTCERT and name the host you connect to; use the "
            "RDS endpoint name and the RDS CA bundle.",
        )
    if isinstance(orig, pg8000.dbapi.InterfaceError) or _find(orig, OSError) is not None:
        if connecting:
            return HookError(ErrorKind.UNREACHABLE, f"cannot connect to {where}: {message}")
        return HookError(
            ErrorKind.CONNECTION_LOST, f"Lost the connection to {where} ({message}).", revision
        )
    if code:
        note = {NOT_IN_TRANSACTION_BLOCK: f" {AUTOCOMMIT_NOTE}"}.get(
            code, f" {DRIVER_NOTE}" if code in DRIVER_TYPING else ""
        )
        return HookError(
            ErrorKind.MIGRATION_FAILED, f"PostgreSQL error {code}: {message}.{note}", revision
        )
    return HookError(
        ErrorKind.MIGRATION_FAILED if revision else ErrorKind.INTERNAL,
        f"{type(orig).__name__}: {message}",
        revision,
    )


def sqlstate(exc: BaseException) -> str | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        code = args[0].get("C")
        return str(code) if code else None
    return None


def pg_message(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        return str(args[0].get("M", ""))[:500]
    text = str(exc).split("\n[SQL:")[0]  # SQLAlchemy appends the statement; keep the reason
    if isinstance(exc, socket.gaierror):
        return f"host name does not resolve ({text})"
    return text[:500]


def _find(exc: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None

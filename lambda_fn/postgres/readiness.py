"""Waiting for the database to accept connections, within a bound, and creating it when asked to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pg8000.native

from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import Credentials
from lambda_fn.deadline import Backoff, Deadline
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.postgres.connect import PROBE_TIMEOUT, open_native, server_major
from lambda_fn.postgres.errors import DUPLICATE_DATABASE, pg_message, sqlstate


@dataclass(frozen=True)
class Ready:
    creds: Credentials  # the ones that worked (after a re-read of the secret, perhaps)
    server_major: int  # decides which session bounds the server knows
    conn: pg8000.native.Connection | None = None  # the connection that proved it, when kept open


def wait_until_ready(
    creds: Credentials,
    *,
    wait: float,
    deadline: Deadline,
    application_name: str,
    on_auth_failure: Callable[[], Credentials] | None = None,
    create_database: bool = False,
    keep_open: bool = False,
    startup: dict[str, str] | None = None,
) -> Ready:
    """Connect with backoff until the database answers, within `wait` seconds (and the deadline).

    Only "not ready yet" is retried. A wrong password fails at once, after one re-read of the secret
    (it may just have rotated); a TLS failure fails at once. Returns the credentials that worked.
    """
    bound = deadline.sub(wait)
    backoff, attempt, reread = Backoff(0.25, 5.0), 0, False
    while True:
        attempt += 1
        try:
            conn = open_native(
                creds,
                timeout=max(0.5, bound.bound(PROBE_TIMEOUT)),
                application_name=application_name,
                startup=startup,
            )
            major = server_major(conn)
            if not keep_open:
                conn.close()
            if attempt > 1:
                logger.info(
                    "Database is ready", extra={"attempts": attempt, "database": creds.describe()}
                )
            return Ready(creds, major, conn if keep_open else None)
        except HookError as exc:
            error = exc
        if error.kind is ErrorKind.AUTHENTICATION and on_auth_failure and not reread:
            logger.warning("Authentication failed; re-reading the secret once in case it rotated")
            creds, reread = on_auth_failure(), True
            continue
        if error.kind is ErrorKind.DATABASE_MISSING and create_database:
            create_missing_database(
                creds, application_name=application_name, timeout=bound.bound(PROBE_TIMEOUT)
            )
            create_database = False
            continue
        if error.kind is not ErrorKind.UNREACHABLE:
            raise error
        if bound.remaining() <= 0.05:
            raise HookError(
                ErrorKind.UNREACHABLE,
                f"The database {creds.describe()} did not answer within "
                f"{wait:g} s ({attempt} attempts; last: {error.message}). Check the host, that the "
                "function's security group may reach it on its port, and that it is running.",
            )
        logger.info(
            "Database not ready; retrying",
            extra={
                "attempt": attempt,
                "reason": error.message,
                "retry_in_s": round(backoff.delay, 2),
            },
        )
        backoff.sleep(bound.remaining())


def create_missing_database(creds: Credentials, *, application_name: str, timeout: float) -> None:
    """CREATE DATABASE through the maintenance database (opt-in: CREATE_DATABASE=true)."""
    maintenance = replace(creds, database="postgres")
    conn = open_native(maintenance, timeout=max(1.0, timeout), application_name=application_name)
    try:
        exists = conn.run("SELECT 1 FROM pg_database WHERE datname = :name", name=creds.database)
        if not exists:
            conn.run(f"CREATE DATABASE {pg8000.native.identifier(creds.database)}")
            logger.info("Created database", extra={"database": creds.database})
    except pg8000.native.DatabaseError as exc:
        if sqlstate(exc) != DUPLICATE_DATABASE:  # created by a concurrent run: fine
            raise HookError(
                ErrorKind.DATABASE_MISSING,
                f"Database {creds.database!r} does not exist and could "
                f"not be created: {pg_message(exc)}. Create it, or grant CREATEDB.",
            ) from None
    finally:
        conn.close()

"""The target database of one execution: its credentials, its connections (bounded by the deadline), and
the migration lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy
from sqlalchemy import Connection

from lambda_fn import credentials
from lambda_fn.credentials import Credentials, SecretReader
from lambda_fn.deadline import MIN_STEP_SECONDS, Deadline
from lambda_fn.errors import ErrorKind, HookError
from lambda_fn.postgres.connect import milliseconds
from lambda_fn.postgres.dialect import make_engine
from lambda_fn.postgres.errors import classify
from lambda_fn.postgres.lock import migration_lock
from lambda_fn.postgres.readiness import wait_until_ready
from lambda_fn.settings import Settings


class TargetDatabase:
    def __init__(self, settings: Settings, deadline: Deadline, read_secret: SecretReader | None,
                 application_name: str) -> None:
        self.settings = settings
        self.deadline = deadline
        self.read_secret = read_secret
        self.application_name = application_name

    def ready_credentials(self) -> Credentials:
        """The credentials, once the database accepts them (one forced re-read of the secret on a refusal)."""
        creds = credentials.resolve(self.settings, self.read_secret)
        return wait_until_ready(
            creds, wait=self.settings.db_wait, deadline=self.deadline, application_name=self.application_name,
            on_auth_failure=lambda: credentials.resolve(self.settings, self.read_secret, force_fetch=True),
            create_database=self.settings.create_database)

    def statement_timeout(self) -> float:
        """The configured statement_timeout, never beyond the time left."""
        return self.deadline.bound(self.settings.statement_timeout)

    @contextmanager
    def connect(self, creds: Credentials) -> Iterator[Connection]:
        if self.deadline.remaining() < MIN_STEP_SECONDS:
            raise HookError(ErrorKind.DEADLINE, "No time left to connect; raise the function timeout.")
        engine = make_engine(creds, statement_timeout=self.statement_timeout,
                             lock_timeout=self.settings.table_lock_timeout, application_name=self.application_name)
        try:
            with engine.connect() as conn:
                self.bound_statements(conn)
                yield conn
        except HookError:
            raise
        except sqlalchemy.exc.DBAPIError as exc:
            raise classify(exc, creds) from None

    def bound_statements(self, conn: Connection) -> None:
        """Cut the session's statement_timeout to the time left now; the startup value is what a RESET inside
        a migration returns to."""
        conn.exec_driver_sql(f"SET statement_timeout = '{milliseconds(self.statement_timeout())}'")
        conn.commit()

    @contextmanager
    def migration_lock(self, creds: Credentials) -> Iterator[float]:
        """Hold the migration lock for the block; yields the seconds spent waiting for it."""
        with migration_lock(creds, name=self.settings.migration_lock_name, wait=self.settings.migration_lock_wait,
                            deadline=self.deadline, application_name=self.application_name) as waited:
            yield waited

"""The target database of one execution: its credentials, its connections (bounded by the deadline and
ended by PostgreSQL if the runner goes silent), the URL a project's env.py may build its own engine from,
and the migration lock."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy
from sqlalchemy import URL, Connection

from lambda_fn import credentials
from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import Credentials, SecretReader
from lambda_fn.deadline import MIN_STEP_SECONDS, Deadline
from lambda_fn.errors import HookError
from lambda_fn.postgres.connect import SOCKET_SLACK, SessionBounds, milliseconds
from lambda_fn.postgres.dialect import hook_url, make_engine
from lambda_fn.postgres.errors import classify
from lambda_fn.postgres.lock import HeldLock, migration_lock
from lambda_fn.postgres.readiness import Ready, wait_until_ready
from lambda_fn.settings import Settings


class TargetDatabase:
    def __init__(
        self,
        settings: Settings,
        deadline: Deadline,
        read_secret: SecretReader | None,
        application_name: str,
        ready: Ready | None = None,
    ) -> None:
        self.settings = settings
        self.deadline = deadline
        self.read_secret = read_secret
        self.application_name = application_name
        self.server_major = 0
        self.engine: sqlalchemy.Engine | None = None
        self._ready = ready  # the fast path already found the database ready

    def ready_credentials(self) -> Credentials:
        """The credentials, once the database accepts them (one forced re-read of the secret on a refusal)."""
        if self._ready is not None:
            self.server_major = self._ready.server_major
            return self._ready.creds
        creds = credentials.resolve(self.settings, self.read_secret)
        ready: Ready = wait_until_ready(
            creds,
            wait=self.settings.db_wait,
            deadline=self.deadline,
            application_name=self.application_name,
            on_auth_failure=lambda: credentials.resolve(
                self.settings, self.read_secret, force_fetch=True
            ),
            create_database=self.settings.create_database,
        )
        self.server_major = ready.server_major
        return ready.creds

    def statement_timeout(self) -> float:
        """The configured statement_timeout, never beyond the time left."""
        return self.deadline.bound(self.settings.statement_timeout)

    def bounds(self) -> SessionBounds:
        """The migration session's server-side bounds, as of now."""
        left = self.deadline.remaining()
        return SessionBounds(
            lock_timeout=self.settings.table_lock_timeout,
            statement_timeout=self.statement_timeout(),
            idle_in_transaction=min(self.settings.idle_timeout, left)
            if self.settings.idle_timeout
            else None,
            # nobody waits beyond the deadline (infinite on a laptop: not set)
            idle_session=left,
            transaction=left,
        )

    def startup(self) -> tuple[dict[str, str], float]:
        bounds = self.bounds()
        return bounds.startup(self.server_major), bounds.statement_timeout or math.inf

    def url(self, creds: Credentials) -> URL:
        """What env.py gets as `sqlalchemy.url`: the same database, TLS, bounds and application_name."""
        params, statement_timeout = self.startup()
        return hook_url(
            creds,
            application_name=self.application_name,
            startup=params,
            timeout=statement_timeout + SOCKET_SLACK,
        )

    @contextmanager
    def connect(self, creds: Credentials) -> Iterator[Connection]:
        if self.deadline.remaining() < MIN_STEP_SECONDS:
            raise HookError(
                ErrorKind.DEADLINE, "No time left to connect; raise the function timeout."
            )
        self.engine = make_engine(
            creds, startup=self.startup, application_name=self.application_name
        )
        try:
            with self.engine.connect() as conn:
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
    def migration_lock(self, creds: Credentials) -> Iterator[HeldLock]:
        """Hold the migration lock for the block."""
        with migration_lock(
            creds,
            name=self.settings.migration_lock_name,
            wait=self.settings.migration_lock_wait,
            deadline=self.deadline,
            application_name=self.application_name,
            idle_timeout=self.settings.idle_timeout or None,
            server_major=self.server_major,
        ) as held:
            yield held

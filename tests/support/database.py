"""The test database kit: real PostgreSQL clusters the tests start themselves (tools/localpg.py), a fresh
database per test, and the admin reads a test uses to check what the hook did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pg8000.native

from tests.support.paths import REPO
from tools.localpg import SUPERUSER_PASSWORD, LocalPostgres

ALEMBIC_INI = str(REPO / "alembic.ini")


@dataclass(frozen=True)
class Database:
    """One fresh database on the session's cluster."""

    cluster: LocalPostgres
    name: str

    @property
    def url(self) -> str:
        return self.cluster.url(self.name, sslmode="disable")

    def admin(self) -> pg8000.native.Connection:
        return pg8000.native.Connection(
            "postgres",
            password=SUPERUSER_PASSWORD,
            host=self.cluster.host,
            port=self.cluster.port,
            database=self.name,
        )

    def query(self, sql: str, **params: object) -> list[list[object]]:
        conn = self.admin()
        try:
            return [list(r) for r in conn.run(sql, **params) or ()]
        finally:
            conn.close()

    def version(self) -> list[str]:
        rows = self.query("SELECT to_regclass('alembic_version') IS NOT NULL")
        if not rows[0][0]:
            return []
        return [str(r[0]) for r in self.query("SELECT version_num FROM alembic_version")]

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for Settings.from_env pointing at this database."""
        return {"DATABASE_URL": self.url, "ALEMBIC_CONFIG": ALEMBIC_INI, **extra}


def create_database(cluster: LocalPostgres, *, template: Database | None = None) -> Database:
    """A fresh database, or a copy of `template` (CREATE DATABASE ... TEMPLATE: nobody may be connected to it)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = pg8000.native.Connection(
        "postgres", password=SUPERUSER_PASSWORD, host=cluster.host, port=cluster.port
    )
    try:
        conn.run(f"CREATE DATABASE {name}" + (f" TEMPLATE {template.name}" if template else ""))
    finally:
        conn.close()
    return Database(cluster, name)

"""Secrets Manager on moto server, and the database login a test's function reads from it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pg8000.native

from tests.support.database import Database


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free local port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def secrets_client(endpoint: str) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class DbLogin:
    """A login role that owns the test's database, and the Secrets Manager secret that holds it."""

    db: Database
    username: str
    password: str
    secret_arn: str
    password_token: str  # the random part of the password

    def secret_value(self, **overrides: Any) -> str:
        return json.dumps(
            {
                "username": self.username,
                "password": self.password,
                "host": self.db.cluster.host,
                "port": self.db.cluster.port,
                "dbname": self.db.name,
                "engine": "postgres",
                **overrides,
            }
        )


def create_login(db: Database, secretsmanager: Any) -> DbLogin:
    """A fresh login role with a fresh password, made owner of `db`, and its secret."""
    username = f"app_{secrets.token_hex(4)}"
    # distinctive, so a leak is unmistakable even inside an escaped repr
    token = secrets.token_hex(8)
    password = f"E2e-{token};p%ss'w"
    conn = db.admin()
    try:
        conn.run(f"CREATE ROLE {username} LOGIN PASSWORD {pg8000.native.literal(password)}")
        conn.run(f"ALTER DATABASE {db.name} OWNER TO {username}")
    finally:
        conn.close()
    value = json.dumps(
        {
            "username": username,
            "password": password,
            "host": db.cluster.host,
            "port": db.cluster.port,
            "dbname": db.name,
            "engine": "postgres",
        }
    )
    arn = secretsmanager.create_secret(Name=f"{db.name}/db", SecretString=value)["ARN"]
    return DbLogin(db, username, password, arn, token)

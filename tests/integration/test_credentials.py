"""Credentials against the real database and a real (moto) Secrets Manager; no password leaks anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lambda_fn.aws.secrets import powertools_secret_reader
from lambda_fn.contract import ErrorKind, Status
from tests.support.database import Database
from tests.support.engine import run
from tools.localpg import SUPERUSER_PASSWORD, free_port


@pytest.fixture(scope="module")
def secrets_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, secrets_endpoint: str) -> str:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    return secrets_endpoint


def put_secret(name: str, value: str) -> str:
    client = boto3.client("secretsmanager")
    return str(client.create_secret(Name=name, SecretString=value)["ARN"])


def secret_json(db: Database, password: str = SUPERUSER_PASSWORD) -> str:
    return json.dumps(
        {
            "username": "postgres",
            "password": password,
            "host": db.cluster.host,
            "port": db.cluster.port,
            "dbname": db.name,
            "engine": "postgres",
        }
    )


def test_secrets_manager_secret_drives_a_migration(db: Database, aws: str) -> None:
    arn = put_secret(f"{db.name}/ok", secret_json(db))
    env = {
        "DB_SECRET_ARN": arn,
        "DB_SSLMODE": "disable",
        "ALEMBIC_CONFIG": db.env()["ALEMBIC_CONFIG"],
    }
    result = run(env, read_secret=powertools_secret_reader())
    assert result.status is Status.APPLIED, result.message
    assert result.database == f"postgres@127.0.0.1:{db.cluster.port}/{db.name}"


def test_missing_secret_is_a_clear_error(db: Database, aws: str) -> None:
    env = {
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf",
        "ALEMBIC_CONFIG": db.env()["ALEMBIC_CONFIG"],
    }
    result = run(env, read_secret=powertools_secret_reader())
    assert result.error is not None and result.error.kind is ErrorKind.SECRET
    assert (
        "nope" in result.message
        and "ResourceNotFound" in result.message
        and "VPC" in result.message
    )


def test_wrong_password_fails_at_once_after_one_forced_reread(
    db: Database, capfd: pytest.CaptureFixture[str]
) -> None:
    wrong = "Wr0ng-and-secret!"
    reads: list[bool] = []

    def reader(secret_id: str, force: bool) -> str:
        reads.append(force)
        return secret_json(db, wrong)

    env = {
        "DB_SECRET_ARN": "s",
        "DB_SSLMODE": "disable",
        "DB_WAIT_SECONDS": "60",
        "ALEMBIC_CONFIG": db.env()["ALEMBIC_CONFIG"],
    }
    result = run(env, read_secret=reader)
    assert result.error is not None and result.error.kind is ErrorKind.AUTHENTICATION
    assert reads == [False, True]  # one cached read, one forced re-read (rotation), no more
    assert result.duration_ms < 30_000  # not treated as "not ready" for the whole wait
    out = capfd.readouterr()
    for text in (out.out, out.err, json.dumps(result.to_dict())):
        assert wrong not in text


def test_rotated_secret_is_picked_up_by_the_forced_reread(db: Database) -> None:
    answers = iter([secret_json(db, "stale-password"), secret_json(db)])

    def reader(secret_id: str, force: bool) -> str:
        return next(answers)

    env = {
        "DB_SECRET_ARN": "s",
        "DB_SSLMODE": "disable",
        "ALEMBIC_CONFIG": db.env()["ALEMBIC_CONFIG"],
    }
    assert run(env, read_secret=reader).status is Status.APPLIED


def test_unreachable_database_waits_within_its_bound(db: Database) -> None:
    from tools.localpg import free_port as closed_port

    url = f"postgresql://u:pw@127.0.0.1:{closed_port()}/d?sslmode=disable"
    result = run({**db.env(), "DATABASE_URL": url, "DB_WAIT_SECONDS": "1.5"})
    assert result.error is not None and result.error.kind is ErrorKind.UNREACHABLE
    assert "did not answer within 1.5 s" in result.message and "security group" in result.message
    assert 1_000 <= result.duration_ms < 10_000


def test_no_password_in_logs_results_or_errors(
    db: Database, capfd: pytest.CaptureFixture[str]
) -> None:
    for command in ("status", "upgrade", "history", "sql"):
        result = run(db.env(), command)
        assert SUPERUSER_PASSWORD not in json.dumps(result.to_dict())
    bad = run(
        db.env(
            DATABASE_URL=db.cluster.url(
                db.name, password="nope-" + SUPERUSER_PASSWORD, sslmode="disable"
            )
        )
    )
    assert bad.error is not None and "nope-" not in bad.message
    out = capfd.readouterr()
    assert SUPERUSER_PASSWORD not in out.out + out.err

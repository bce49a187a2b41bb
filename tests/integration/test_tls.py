"""TLS with libpq's meaning, against a server whose certificate a test CA signed for 'localhost'."""

from __future__ import annotations

import pg8000.native
import pytest

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.credentials import from_url
from lambda_fn.postgres.connect import connect_kwargs
from lambda_fn.settings import Settings
from tests.support.database import ALEMBIC_INI
from tests.support.engine import run
from tools.localpg import LocalPostgres


def env(url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "ALEMBIC_CONFIG": ALEMBIC_INI, "DB_WAIT_SECONDS": "2", **extra}


def ssl_in_use(url: str, settings_env: dict[str, str] | None = None) -> bool:
    creds = from_url(url, Settings.from_env(settings_env or {}))
    conn = pg8000.native.Connection(
        **connect_kwargs(creds, timeout=5, application_name="tls-check")
    )
    try:
        return bool(conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0])
    finally:
        conn.close()


def test_verify_full_against_the_test_ca_works(pg_tls: LocalPostgres) -> None:
    assert pg_tls.tls is not None
    url = pg_tls.url(host="localhost", sslmode="verify-full", sslrootcert=str(pg_tls.tls.ca_cert))
    result = run(env(url), "status")
    assert result.status is Status.PENDING, result.message
    assert ssl_in_use(url)


def test_ca_bundle_from_the_environment_works_too(pg_tls: LocalPostgres) -> None:
    assert pg_tls.tls is not None
    result = run(
        env(pg_tls.url(host="localhost"), DB_SSLROOTCERT=str(pg_tls.tls.ca_cert)), "status"
    )
    assert result.status is Status.PENDING, result.message


def test_wrong_ca_is_refused(pg_tls: LocalPostgres) -> None:
    assert pg_tls.tls is not None
    url = pg_tls.url(
        host="localhost", sslmode="verify-full", sslrootcert=str(pg_tls.tls.other_ca_cert)
    )
    result = run(env(url), "status")
    assert result.error is not None and result.error.kind is ErrorKind.TLS, result.message
    assert "certificate" in result.message


def test_wrong_host_name_is_refused(pg_tls: LocalPostgres) -> None:
    assert pg_tls.tls is not None
    url = pg_tls.url(host="127.0.0.1", sslmode="verify-full", sslrootcert=str(pg_tls.tls.ca_cert))
    result = run(env(url), "status")
    assert result.error is not None and result.error.kind is ErrorKind.TLS, result.message
    assert "mismatch" in result.message


def test_verify_ca_skips_only_the_host_name(pg_tls: LocalPostgres) -> None:
    assert pg_tls.tls is not None
    ok = pg_tls.url(host="127.0.0.1", sslmode="verify-ca", sslrootcert=str(pg_tls.tls.ca_cert))
    assert run(env(ok), "status").status is Status.PENDING
    bad = pg_tls.url(
        host="127.0.0.1", sslmode="verify-ca", sslrootcert=str(pg_tls.tls.other_ca_cert)
    )
    refused = run(env(bad), "status").error
    assert refused is not None and refused.kind is ErrorKind.TLS


def test_verification_is_the_default(pg_tls: LocalPostgres) -> None:
    """No sslmode anywhere means verify-full against the system trust store, which lacks the test CA."""
    result = run(env(pg_tls.url(host="localhost")), "status")
    assert result.error is not None and result.error.kind is ErrorKind.TLS, result.message


@pytest.mark.parametrize(("mode", "encrypted"), [("require", True), ("disable", False)])
def test_plaintext_only_when_disable_is_asked_for(
    pg_tls: LocalPostgres, mode: str, encrypted: bool
) -> None:
    url = pg_tls.url(host="127.0.0.1", sslmode=mode)
    assert run(env(url), "status").status is Status.PENDING
    assert ssl_in_use(url) is encrypted


def test_a_server_without_tls_is_refused_rather_than_used_in_plaintext(pg: LocalPostgres) -> None:
    result = run(env(pg.url(sslmode="require")), "status")
    assert result.error is not None and result.error.kind is ErrorKind.TLS, result.message

"""Every credential source and URL form, into one Credentials value; bad input, clear errors."""

from __future__ import annotations

import json

import pytest

from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import Credentials, resolve
from lambda_fn.errors import HookError
from lambda_fn.postgres.dialect import DRIVER, hook_url
from lambda_fn.settings import Settings

PASSWORD = "p@ss:w/rd%?#"  # characters that break naive URL handling
QUOTED = "p%40ss%3Aw%2Frd%25%3F%23"


def creds(env: dict[str, str], secret: str | None = None) -> Credentials:
    def reader(secret_id: str, force: bool) -> str:
        assert secret is not None
        return secret

    return resolve(Settings.from_env(env), reader)


@pytest.mark.parametrize(
    "scheme",
    [
        "postgresql",
        "postgres",
        "postgresql+asyncpg",
        "postgresql+psycopg2",
        "postgresql+psycopg",
        "postgresql+pg8000",
    ],
)
def test_every_common_url_form_becomes_the_same_credentials(scheme: str) -> None:
    c = creds({"DATABASE_URL": f"{scheme}://app:{QUOTED}@db.internal:6432/finops"})
    assert (c.username, c.password, c.host, c.port, c.database) == (
        "app",
        PASSWORD,
        "db.internal",
        6432,
        "finops",
    )
    # what env.py gets: the hook's own dialect
    url = hook_url(c, application_name="t", startup={}, timeout=5)
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        DRIVER,
        "app",
        PASSWORD,
        "db.internal",
        6432,
        "finops",
    )
    assert PASSWORD not in repr(c) and PASSWORD not in c.describe()


def test_url_sslmode_and_rootcert_win_over_the_environment() -> None:
    c = creds(
        {
            "DATABASE_URL": "postgresql://a:b@h/d?sslmode=verify-ca&sslrootcert=/ca.pem",
            "DB_SSLMODE": "require",
        }
    )
    assert (c.sslmode, c.sslrootcert) == ("verify-ca", "/ca.pem")
    assert creds({"DATABASE_URL": "postgresql://a:b@h/d"}).sslmode == "verify-full"


@pytest.mark.parametrize(
    "prefix,db_key", [("POSTGRES", "POSTGRES_DB"), ("DATABASE", "DATABASE_NAME")]
)
def test_component_variables(prefix: str, db_key: str) -> None:
    c = creds(
        {
            f"{prefix}_HOST": "h",
            f"{prefix}_PORT": "5433",
            db_key: "d",
            f"{prefix}_USER": "u",
            f"{prefix}_PASSWORD": PASSWORD,
        }
    )
    assert (c.host, c.port, c.database, c.username, c.password) == ("h", 5433, "d", "u", PASSWORD)


def test_secret_comes_first_and_env_fills_an_rds_managed_secret() -> None:
    env = {
        "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:rds!db-1",
        "DB_HOST": "rds.local",
        "DB_PORT": "5432",
        "DB_NAME": "finops",
        "DATABASE_URL": "postgresql://x:y@ignored/z",
    }
    c = creds(env, json.dumps({"username": "master", "password": PASSWORD}))
    assert (c.host, c.database, c.username, c.password) == (
        "rds.local",
        "finops",
        "master",
        PASSWORD,
    )
    assert c.source.startswith("secret ")


def test_cdk_secret_shape_with_numeric_port_and_no_dbname() -> None:
    secret = {
        "username": "u",
        "password": PASSWORD,
        "host": "h",
        "port": 5432,
        "engine": "postgres",
    }
    c = creds({"DB_SECRET_ARN": "s"}, json.dumps(secret))
    assert (c.port, c.database) == (5432, "postgres")


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"a string"', ""])
def test_malformed_secret(raw: str) -> None:
    with pytest.raises(HookError) as err:
        creds({"DB_SECRET_ARN": "s"}, raw)
    assert err.value.kind is ErrorKind.SECRET and "JSON object" in err.value.message


def test_secret_missing_keys_are_named() -> None:
    with pytest.raises(HookError) as err:
        creds({"DB_SECRET_ARN": "s"}, json.dumps({"username": "u", "password": PASSWORD}))
    assert (
        err.value.kind is ErrorKind.SECRET
        and "host" in err.value.message
        and "DB_HOST" in err.value.message
    )
    assert PASSWORD not in err.value.message


def test_bad_port_and_bad_scheme_and_garbage_urls() -> None:
    with pytest.raises(HookError, match="port"):
        creds(
            {"DB_SECRET_ARN": "s"},
            json.dumps({"username": "u", "password": "p", "host": "h", "port": "x"}),
        )
    with pytest.raises(HookError, match="not PostgreSQL"):
        creds({"DATABASE_URL": "mysql://u:p@h/d"})
    with pytest.raises(HookError) as err:
        creds({"DATABASE_URL": f"::{PASSWORD}::"})
    assert PASSWORD not in err.value.message


def test_no_source_at_all_says_what_to_set() -> None:
    with pytest.raises(HookError) as err:
        creds({})
    assert err.value.kind is ErrorKind.CONFIGURATION and "DB_SECRET_ARN" in err.value.message


@pytest.mark.parametrize(
    "env,match",
    [
        ({"DB_SSLMODE": "prefer"}, "DB_SSLMODE"),
        ({"DB_WAIT_SECONDS": "-1"}, "DB_WAIT_SECONDS"),
        ({"SKIP_MIGRATIONS": "maybe"}, "SKIP_MIGRATIONS"),
    ],
)
def test_bad_settings_are_configuration_errors(env: dict[str, str], match: str) -> None:
    with pytest.raises(HookError, match=match) as err:
        Settings.from_env(env)
    assert err.value.kind is ErrorKind.CONFIGURATION

"""The secret read through the AWS Parameters and Secrets Lambda Extension (DB_SECRET_SOURCE=extension),
against a local endpoint that plays the extension (tests/support/secrets_extension.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from lambda_fn import invocation
from lambda_fn.aws.secrets import extension_secret_reader
from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import SecretReader
from lambda_fn.errors import HookError
from lambda_fn.settings import Settings
from tests.support.http_server import Response
from tests.support.secrets_extension import SESSION_TOKEN, TOKEN_HEADER, SecretsExtension, hang

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf"
VALUE = json.dumps({"username": "app", "password": "Unit-s3cret;p%ss", "host": "db", "port": 5432})


@pytest.fixture(scope="module")
def served() -> Iterator[SecretsExtension]:
    extension = SecretsExtension({ARN: VALUE})
    yield extension
    extension.close()


@pytest.fixture
def extension(served: SecretsExtension) -> SecretsExtension:
    served.reset()
    return served


def env_of(extension: SecretsExtension, **extra: str) -> dict[str, str]:
    return {
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": extension.port,
        **extra,
    }


class FakeSdk:
    """The SDK reader's factory, recording what it was asked."""

    def __init__(self, value: str = "from-the-sdk") -> None:
        self.value = value
        self.created = 0
        self.reads: list[tuple[str, bool]] = []

    def __call__(self) -> SecretReader:
        self.created += 1

        def read(secret_id: str, force: bool) -> str:
            self.reads.append((secret_id, force))
            return self.value

        return read


def secret_error(read: SecretReader, force: bool = False) -> HookError:
    with pytest.raises(HookError) as caught:
        read(ARN, force)
    assert caught.value.kind is ErrorKind.SECRET, caught.value.message
    return caught.value


def test_reads_the_secret_string_with_the_session_token(extension: SecretsExtension) -> None:
    sdk = FakeSdk()
    read = extension_secret_reader(env_of(extension), sdk=sdk)
    assert read(ARN, False) == VALUE
    (request,) = extension.requests
    assert request.headers.get(TOKEN_HEADER) == SESSION_TOKEN
    # the ARN's ':' and '/' are escaped in the query
    assert request.path == "/secretsmanager/get?secretId=" + ARN.replace(":", "%3A").replace(
        "/", "%2F"
    )
    assert sdk.created == 0  # boto3 is never touched unless a forced re-read needs it


def test_cached_in_process_like_powertools(extension: SecretsExtension) -> None:
    read = extension_secret_reader(env_of(extension), sdk=FakeSdk())
    assert read(ARN, False) == read(ARN, False) == VALUE
    assert len(extension.requests) == 1  # within Powertools' default max age (5 s)
    uncached = extension_secret_reader(
        env_of(extension, POWERTOOLS_PARAMETERS_MAX_AGE="0"), sdk=FakeSdk()
    )
    uncached(ARN, False)
    uncached(ARN, False)
    assert len(extension.requests) == 3


def test_a_forced_re_read_bypasses_the_extension_cache(extension: SecretsExtension) -> None:
    """After the database refused the password the extension may still hold the rotated-away value: the
    forced read goes to Secrets Manager through the SDK, and so does every later read in the environment."""
    sdk = FakeSdk("rotated")
    read = extension_secret_reader(env_of(extension), sdk=sdk)
    assert read(ARN, False) == VALUE
    assert read(ARN, True) == "rotated"
    assert read(ARN, False) == "rotated"
    assert len(extension.requests) == 1
    assert (sdk.created, sdk.reads) == (1, [(ARN, True), (ARN, False)])


def test_the_sdk_reader_that_cannot_be_created_is_a_secret_error(
    extension: SecretsExtension,
) -> None:
    def broken() -> SecretReader:
        raise ValueError("You must specify a region.")

    error = secret_error(extension_secret_reader(env_of(extension), sdk=broken), force=True)
    assert "region" in error.message and "AWS_REGION" in error.message


def test_a_wrong_token_is_a_clear_secret_error(extension: SecretsExtension) -> None:
    error = secret_error(
        extension_secret_reader({**env_of(extension), "AWS_SESSION_TOKEN": "other"})
    )
    assert "HTTP 401" in error.message and "DB_SECRET_SOURCE=sdk" in error.message


def test_no_session_token_is_a_clear_secret_error(extension: SecretsExtension) -> None:
    env = env_of(extension)
    del env["AWS_SESSION_TOKEN"]
    error = secret_error(extension_secret_reader(env))
    assert "AWS_SESSION_TOKEN" in error.message
    assert extension.requests == []


def test_an_unknown_secret_says_to_check_the_secret_and_the_role(
    extension: SecretsExtension,
) -> None:
    with pytest.raises(HookError) as caught:
        extension_secret_reader(env_of(extension))(
            "arn:aws:secretsmanager:us-east-1:1:secret:missing", False
        )
    assert caught.value.kind is ErrorKind.SECRET
    assert (
        "HTTP 400" in caught.value.message and "ResourceNotFoundException" in caught.value.message
    )
    assert "role may read it" in caught.value.message


def test_a_server_error_says_to_check_the_route_to_secrets_manager(
    extension: SecretsExtension,
) -> None:
    extension.fault = lambda request: Response(
        502, b"Error: connect ETIMEDOUT secretsmanager.us-east-1"
    )
    error = secret_error(extension_secret_reader(env_of(extension)))
    assert "HTTP 502" in error.message and "VPC reaches Secrets Manager" in error.message


def test_an_extension_that_does_not_answer_times_out(extension: SecretsExtension) -> None:
    extension.fault = hang(2.0)
    error = secret_error(extension_secret_reader(env_of(extension), timeout=0.2))
    assert "within 0.2 s" in error.message


def test_no_extension_listening_says_to_add_the_layer() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    error = secret_error(
        extension_secret_reader(
            {"AWS_SESSION_TOKEN": "t", "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": port}
        )
    )
    assert "Extension layer" in error.message and "secrets_extension=True" in error.message


@pytest.mark.parametrize(
    "body", [b"hunter2-not-json", json.dumps({"Name": "x", "Password": "hunter2"}).encode()]
)
def test_a_malformed_answer_is_a_secret_error_without_its_body(
    extension: SecretsExtension, body: bytes
) -> None:
    extension.fault = lambda request: Response(200, body)
    error = secret_error(extension_secret_reader(env_of(extension)))
    assert "hunter2" not in error.message
    assert "SecretString" in error.message


def test_a_binary_secret_is_refused(extension: SecretsExtension) -> None:
    extension.fault = lambda request: Response.json(200, {"Name": "x", "SecretBinary": "AAEC"})
    assert "binary" in secret_error(extension_secret_reader(env_of(extension))).message


def test_an_invalid_port_is_a_configuration_error() -> None:
    with pytest.raises(HookError) as caught:
        extension_secret_reader(
            {"AWS_SESSION_TOKEN": "t", "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "x"}
        )(ARN, False)
    assert caught.value.kind is ErrorKind.CONFIGURATION


def test_the_setting_chooses_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SDK reader's client needs one
    assert Settings.from_env({}).secret_source == "sdk"
    assert Settings.from_env({"DB_SECRET_SOURCE": " Extension "}).secret_source == "extension"
    with pytest.raises(HookError) as caught:
        Settings.from_env({"DB_SECRET_SOURCE": "vault"})
    assert caught.value.kind is ErrorKind.CONFIGURATION and "sdk, extension" in caught.value.message
    assert Settings.to_env(secret_source="extension") == {"DB_SECRET_SOURCE": "extension"}
    invocation.secret_reader.cache_clear()
    try:
        assert invocation.secret_reader("extension").__qualname__.startswith(
            "extension_secret_reader."
        )
        assert invocation.secret_reader("sdk").__qualname__.startswith("powertools_secret_reader.")
    finally:
        invocation.secret_reader.cache_clear()

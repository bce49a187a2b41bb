"""DB_SECRET_SOURCE=extension through the real runtime client, with the AWS Parameters and Secrets Lambda
Extension played on localhost (tests/support/secrets_extension.py, reading moto's Secrets Manager).

A probe handler in the task root runs the hook's handler and then prints which heavy modules the process has
loaded, so the tests see what the execution environment imported: on a cold "already at head" run, no boto3
(nor SQLAlchemy or Alembic); after a rotation, the forced re-read goes through boto3, past the extension's
stale cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pg8000.native
import pytest

from tests.support.bundle_layout import Bundle
from tests.support.lambda_runtime import Function, LambdaProcess, RuntimeApi, lambda_env
from tests.support.moto_secrets import DbLogin
from tests.support.secrets_extension import TOKEN_HEADER, SecretsExtension, from_secrets_manager

PROBE = "extension_probe.handler"
PROBE_SOURCE = '''"""The hook's handler, then one line naming the heavy modules this process has loaded (e2e tests)."""
import json
import sys

from lambda_fn.handler import handler as hook

HEAVY = ("boto3", "botocore.session", "botocore.client", "sqlalchemy", "alembic")


def handler(event, context):
    answer = hook(event, context)
    print(json.dumps({"message": "modules loaded", "modules": [m for m in HEAVY if m in sys.modules]}), flush=True)
    return answer
'''
HEAD = "0005_recommendations"


@pytest.fixture(scope="module")
def served(secretsmanager: Any) -> Iterator[SecretsExtension]:
    extension = SecretsExtension(from_secrets_manager(secretsmanager))
    yield extension
    extension.close()


@pytest.fixture
def extension(served: SecretsExtension) -> SecretsExtension:
    served.reset()
    return served


@pytest.fixture
def start_probe(bundle: Bundle, moto_endpoint: str, extension: SecretsExtension) -> Iterator[Any]:
    """start(login) -> a fresh execution environment running the probe, reading the secret through the
    extension. At teardown: no password in any output or reply."""
    (bundle.task_root / "extension_probe.py").write_text(PROBE_SOURCE)
    started: list[tuple[Function, tuple[str, ...]]] = []

    def start(login: DbLogin, *sensitive: str) -> Function:
        api = RuntimeApi()
        env = lambda_env(
            bundle,
            api.address,
            DB_SECRET_ARN=login.secret_arn,
            DB_SSLMODE="disable",
            DB_WAIT_SECONDS="5",
            POWERTOOLS_TRACE_DISABLED="true",
            # the SDK path (a forced re-read) reaches moto; the extension path must not need it
            AWS_ENDPOINT_URL_SECRETS_MANAGER=moto_endpoint,
            **extension.env(),
        )
        function = Function(api, LambdaProcess(api, bundle, env, handler=PROBE))
        started.append((function, (login.password, login.password_token, *sensitive)))
        return function

    yield start
    for function, sensitive in started:
        output = function.process.stop()
        function.api.close()
        for value in sensitive:
            assert value not in output, "a secret value reached the function's output"
            assert all(value not in json.dumps(reply.body) for reply in function.replies)
        assert not function.api.init_errors, function.api.init_errors


def loaded(function: Function) -> list[list[str]]:
    """The probe's report after each invocation so far."""
    return [record["modules"] for record in function.records("modules loaded")]


def test_cold_at_head_through_the_extension_imports_no_boto3(
    login: DbLogin, start_probe: Any, extension: SecretsExtension
) -> None:
    first = start_probe(login)
    applied = first.invoke({})
    assert applied.kind == "response" and applied.body["status"] == "applied", applied
    # even the full path, which loads SQLAlchemy and Alembic to apply, reads the secret without boto3
    assert loaded(first) == [["sqlalchemy", "alembic"]]

    cold = start_probe(login)  # a new execution environment: the common deploy, nothing pending
    reply = cold.invoke({})
    assert reply.kind == "response" and reply.body["status"] == "up_to_date", reply
    assert reply.body["to_revision"] == HEAD
    assert loaded(cold) == [[]]
    # one request per execution environment, each with the function's session token
    assert [r.headers.get(TOKEN_HEADER) for r in extension.requests] == ["testing", "testing"]


def test_after_a_rotation_the_forced_re_read_bypasses_the_extension_cache(
    login: DbLogin, start_probe: Any, extension: SecretsExtension, secretsmanager: Any
) -> None:
    # the password changes in the database and in Secrets Manager; the extension still serves the old one
    rotated = f"Rotated-{login.password_token}-x"
    extension.pin(login.secret_arn, login.secret_value())
    conn = login.db.admin()
    try:
        conn.run(f"ALTER ROLE {login.username} PASSWORD {pg8000.native.literal(rotated)}")
    finally:
        conn.close()
    secretsmanager.put_secret_value(
        SecretId=login.secret_arn, SecretString=login.secret_value(password=rotated)
    )

    function = start_probe(login, rotated)
    reply = function.invoke({})
    assert reply.kind == "response" and reply.body["status"] == "applied", reply
    assert login.db.version() == [HEAD]
    assert len(extension.requests) == 1  # the stale value came from the extension ...
    assert "boto3" in loaded(function)[0]  # ... the fresh one through the SDK
    again = function.invoke({})  # warm: Powertools' cache, not the extension's stale one
    assert again.kind == "response" and again.body["status"] == "up_to_date", again
    assert len(extension.requests) == 1

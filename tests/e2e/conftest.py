"""Fixtures for the end-to-end tests: the real runtime client in a bundle-like task root, moto server for
Secrets Manager, local CodePipeline and CloudFormation reply endpoints, and the real PostgreSQL.

Each test gets a fresh database, its own login role with a fresh password, its own secret, and its own
runtime process (several invocations within a test share it, as warm invocations do on Lambda).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.bundle_layout import Bundle, build_bundle
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.database import Database
from tests.support.lambda_runtime import (
    Function,
    LambdaProcess,
    RuntimeApi,
    StartFunction,
    lambda_env,
)
from tests.support.moto_secrets import DbLogin, create_login, moto_server, secrets_client
from tests.support.response_recorder import ResponseRecorder


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def pipeline() -> Iterator[CodePipelineRecorder]:
    recorder = CodePipelineRecorder()
    yield recorder
    recorder.close()


@pytest.fixture(scope="session")
def cfn() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.close()


@pytest.fixture(scope="session")
def secretsmanager(moto_endpoint: str) -> Any:
    return secrets_client(moto_endpoint)


@pytest.fixture
def login(db: Database, secretsmanager: Any) -> DbLogin:
    return create_login(db, secretsmanager)


@pytest.fixture
def start_function(
    bundle: Bundle, moto_endpoint: str, pipeline: CodePipelineRecorder, cfn: ResponseRecorder
) -> Iterator[StartFunction]:
    """start_function(login_or_none, **env) -> Function. At teardown: no secret value anywhere in the
    process's output, in any reply, in any job result or in any CloudFormation response."""
    started: list[Function] = []

    def start(
        login: DbLogin | None = None, *, sensitive: tuple[str, ...] = (), **env: str
    ) -> Function:
        api = RuntimeApi()
        settings = {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
            "AWS_ENDPOINT_URL_CODEPIPELINE": pipeline.url,
            "DB_SSLMODE": "disable",
            "DB_WAIT_SECONDS": "5",
            "MIGRATION_LOCK_WAIT_SECONDS": "5",
            "POWERTOOLS_TRACE_DISABLED": "true",  # the bundle ships no X-Ray SDK
            "POWERTOOLS_METRICS_NAMESPACE": "AlembicHookE2E",
        }
        if login is not None:
            settings["DB_SECRET_ARN"] = login.secret_arn
        settings.update(env)
        function = Function(
            api, LambdaProcess(api, bundle, lambda_env(bundle, api.address, **settings))
        )
        function.sensitive.extend(sensitive)
        if login is not None:
            function.sensitive += [login.password, login.password_token]
        started.append(function)
        return function

    yield start
    sent = json.dumps(
        {job: [r.params for r in results] for job, results in pipeline.results.items()}
    )
    sent += "".join(
        body.decode(errors="replace") for puts in cfn.puts.values() for _h, body in puts
    )
    for function in started:
        output = function.process.stop()
        function.api.close()
        for value in function.sensitive:
            assert value not in output, "a secret value reached the function's output"
            assert value not in sent, (
                "a secret value reached a job result or a CloudFormation response"
            )
            for reply in function.replies:
                assert value not in json.dumps(reply.body), "a secret value reached a reply"
        assert not function.api.init_errors, function.api.init_errors

"""Fixtures for the end-to-end tests: the real runtime client in a bundle-like task root, moto server for
Secrets Manager, local CodePipeline and CloudFormation reply endpoints, and the real PostgreSQL.

Each test gets a fresh database, its own login role with a fresh password, its own secret, and its own
runtime process (several invocations within a test share it, as warm invocations do on Lambda).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pg8000.native
import pytest
from moto.server import ThreadedMotoServer

from tests.e2e.harness import (
    Bundle,
    CodePipelineRecorder,
    LambdaProcess,
    Reply,
    ResponseRecorder,
    RuntimeApi,
    build_bundle,
    lambda_env,
)
from tests.support.database import Database


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


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
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@dataclass
class DbLogin:
    """A login role that owns the test's database, and the Secrets Manager secret that holds it."""

    db: Database
    username: str
    password: str
    secret_arn: str
    password_token: str  # the random part of the password

    def secret_value(self, **overrides: Any) -> str:
        return json.dumps({"username": self.username, "password": self.password, "host": self.db.cluster.host,
                           "port": self.db.cluster.port, "dbname": self.db.name, "engine": "postgres",
                           **overrides})


@pytest.fixture
def login(db: Database, secretsmanager: Any) -> DbLogin:
    username = f"app_{secrets.token_hex(4)}"
    token = secrets.token_hex(8)  # distinctive, so a leak is unmistakable even inside an escaped repr
    password = f"E2e-{token};p%ss'w"
    conn = db.admin()
    try:
        conn.run(f"CREATE ROLE {username} LOGIN PASSWORD {pg8000.native.literal(password)}")
        conn.run(f"ALTER DATABASE {db.name} OWNER TO {username}")
    finally:
        conn.close()
    value = json.dumps({"username": username, "password": password, "host": db.cluster.host,
                        "port": db.cluster.port, "dbname": db.name, "engine": "postgres"})
    arn = secretsmanager.create_secret(Name=f"{db.name}/db", SecretString=value)["ARN"]
    return DbLogin(db, username, password, arn, token)


@dataclass
class Function:
    """One execution environment: a runtime process and the Runtime API it polls."""

    api: RuntimeApi
    process: LambdaProcess
    sensitive: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)

    def invoke(self, event: Any, *, timeout_ms: int = 60_000) -> Reply:
        reply = self.api.invoke(event, timeout_ms=timeout_ms)
        assert reply.kind != "exited", f"the runtime process exited ({reply.body}):\n{self.process.output}"
        self.replies.append(reply)
        # the runtime's next poll means this invocation's output is all written: read it before returning
        self.api.wait_for_polls(len(self.replies) + 1)
        self.process.drain()
        return reply

    @property
    def output(self) -> str:
        return self.process.output

    def records(self, message: str) -> list[dict[str, Any]]:
        return [r for r in self.process.log_records() if r.get("message") == message]

    def metrics(self) -> list[dict[str, Any]]:
        return [r for r in self.process.log_records() if "_aws" in r]


StartFunction = Callable[..., Function]


@pytest.fixture
def start_function(bundle: Bundle, moto_endpoint: str, pipeline: CodePipelineRecorder,
                   cfn: ResponseRecorder) -> Iterator[StartFunction]:
    """start_function(login_or_none, **env) -> Function. At teardown: no secret value anywhere in the
    process's output, in any reply, in any job result or in any CloudFormation response."""
    started: list[Function] = []

    def start(login: DbLogin | None = None, *, sensitive: tuple[str, ...] = (), **env: str) -> Function:
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
        function = Function(api, LambdaProcess(api, bundle, lambda_env(bundle, api.address, **settings)))
        function.sensitive.extend(sensitive)
        if login is not None:
            function.sensitive += [login.password, login.password_token]
        started.append(function)
        return function

    yield start
    sent = json.dumps({job: [r.params for r in results] for job, results in pipeline.results.items()})
    sent += "".join(body.decode(errors="replace") for puts in cfn.puts.values() for _h, body in puts)
    for function in started:
        output = function.process.stop()
        function.api.close()
        for value in function.sensitive:
            assert value not in output, "a secret value reached the function's output"
            assert value not in sent, "a secret value reached a job result or a CloudFormation response"
            for reply in function.replies:
                assert value not in json.dumps(reply.body), "a secret value reached a reply"
        assert not function.api.init_errors, function.api.init_errors

"""`alembic-hook invoke --function NAME rehearse --on-host ...` through the Lambda Invoke API to the real runtime
client: the copy travels as the direct event's "copy" object, the function logs in to it with its own secret
(a copy keeps the source's users), measures the pending revisions there and records them in the target's
ledger; the target does not move. No password is in the payload (the fixture checks every reply and the
function's output for the secret too)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pg8000.native
import pytest

from lambda_fn.cli import main as cli
from tests.support.database import Database
from tests.support.inprocess import aws_env
from tests.support.lambda_runtime import Function, StartFunction
from tests.support.lambda_service import LambdaService
from tests.support.moto_secrets import DbLogin
from tools.localpg import SUPERUSER_PASSWORD

FROM, HEAD = "0003_intents", "0005_recommendations"


class Warm:
    """The Invoke API's backend: the one runtime process the test started (a warm execution environment)."""

    def __init__(self, function: Function) -> None:
        self.function = function

    def invoke(self, payload: Any) -> tuple[bool, Any]:
        reply = self.function.invoke(payload)
        return reply.kind == "response", reply.body


def _server(login: DbLogin) -> pg8000.native.Connection:
    cluster = login.db.cluster  # not connected to the target: a template must have no other session
    return pg8000.native.Connection(
        "postgres", password=SUPERUSER_PASSWORD, host=cluster.host, port=cluster.port
    )


def _copy_of(login: DbLogin) -> Database:
    """CREATE DATABASE ... TEMPLATE target, owned by the app's login: what a clone is to the function."""
    name = f"copy_{uuid.uuid4().hex[:10]}"
    conn = _server(login)
    try:
        conn.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d",
            d=login.db.name,
        )
        conn.run(f"CREATE DATABASE {name} TEMPLATE {login.db.name} OWNER {login.username}")
    finally:
        conn.close()
    return Database(login.db.cluster, name)


def test_invoke_rehearse_sends_the_copy_and_the_function_measures_it(
    login: DbLogin, start_function: StartFunction, capsys: pytest.CaptureFixture[str]
) -> None:
    fn = start_function(login)
    assert fn.invoke({"command": "upgrade", "revision": FROM}).body["status"] == "applied"
    copy = _copy_of(login)
    service = LambdaService()
    service.add("alembic-hook", Warm(fn))
    try:
        with aws_env(AWS_ENDPOINT_URL_LAMBDA=service.url):
            code = cli.main(
                [
                    "--json",
                    "invoke",
                    "--function",
                    "alembic-hook",
                    "rehearse",
                    "--on-host",
                    login.db.cluster.host,
                    "--on-port",
                    str(login.db.cluster.port),
                    "--on-name",
                    copy.name,
                    "--copy-kind",
                    "template",
                ]
            )
        result = json.loads(capsys.readouterr().out)
        assert code == 0 and result["status"] == "ok", result
        [call] = service.invocations
        assert call.payload == {
            "command": "rehearse",
            "copy": {
                "host": login.db.cluster.host,
                "port": login.db.cluster.port,
                "name": copy.name,
                "kind": "template",
            },
        }
        rehearsal = result["rehearsal"]
        assert [m["revision"] for m in rehearsal["revisions"]] == ["0004_executions", HEAD]
        assert rehearsal["kind"] == "template" and copy.name in rehearsal["copy"]
        # the copy moved, the target did not; the measurement is on record in the target's ledger
        assert copy.version() == [HEAD] and login.db.version() == [FROM]
        assert login.db.query(
            "SELECT revision, target_revision, copy_kind FROM alembic_hook_rehearsals ORDER BY id"
        ) == [["0004_executions", FROM, "template"], [HEAD, FROM, "template"]]
        # a copy at another revision than the target (now the copy is at head) is refused before any DDL
        with aws_env(AWS_ENDPOINT_URL_LAMBDA=service.url):
            again = cli.main(
                [
                    "invoke",
                    "--function",
                    "alembic-hook",
                    "rehearse",
                    "--on",
                    f"postgresql://{login.db.cluster.host}:{login.db.cluster.port}/{copy.name}",
                ]
            )
        assert (
            again == 1
            and "is at 0005_recommendations, the target at 0003_intents" in capsys.readouterr().out
        )
        assert service.invocations[-1].payload["copy"] == {
            "host": login.db.cluster.host,
            "port": login.db.cluster.port,
            "name": copy.name,
        }
    finally:
        service.close()
        conn = _server(login)
        try:
            conn.run(f"DROP DATABASE IF EXISTS {copy.name} WITH (FORCE)")
        finally:
            conn.close()

"""`alembic-hook invoke` against a local Lambda API endpoint: one attempt, a read timeout longer than the
function's, the result object out of a function error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_fn.cli import main as cli
from lambda_fn.cli import remote
from lambda_fn.contract import Status
from tests.support.inprocess import aws_env
from tests.support.lambda_endpoint import FakeLambda


@pytest.fixture
def fake() -> Iterator[FakeLambda]:
    server = FakeLambda()
    with aws_env(AWS_ENDPOINT_URL_LAMBDA=server.url):
        yield server
    server.close()


RESULT = {
    "command": "status",
    "status": "up_to_date",
    "message": "at 0005",
    "to_revision": "0005",
    "applied": [],
    "heads": ["0005"],
    "duration_ms": 12.0,
}


def test_success_returns_the_result_object(fake: FakeLambda) -> None:
    fake.body = RESULT
    assert remote.invoke_function("fn", {"command": "status"}) == RESULT
    [call] = fake.invocations
    assert call["payload"] == {"command": "status"} and call["type"] == "RequestResponse"
    assert call["path"] == "/2015-03-31/functions/fn/invocations"


def test_a_migration_failure_comes_back_as_its_result_object(fake: FakeLambda) -> None:
    failed = {
        **RESULT,
        "status": "failed",
        "error": {"kind": "migration_failed", "message": "boom"},
    }
    fake.function_error, fake.body = (
        "Unhandled",
        {"errorType": "MigrationFailed", "errorMessage": json.dumps(failed), "stackTrace": []},
    )
    assert remote.invoke_function("fn", {}) == failed


def test_any_other_function_error_is_a_failed_result(fake: FakeLambda) -> None:
    fake.function_error = "Unhandled"
    fake.body = {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 900.00 seconds",
    }
    result = remote.invoke_function("fn", {"command": "upgrade"})
    assert result["status"] == Status.FAILED and result["command"] == "upgrade"
    assert "Sandbox.Timedout" in result["message"] and "check `status`" in result["message"]


def test_no_answer_in_time_is_reported_and_never_retried(fake: FakeLambda) -> None:
    fake.timeout, fake.hold = 1, threading.Event()
    result = remote.invoke_function("fn", {"command": "upgrade"}, read_margin=1)
    assert result["error"]["kind"] == "deadline"
    assert "within 2 s" in result["message"] and "before running it again" in result["message"]
    assert len(fake.invocations) == 1  # the SDK's retry would have started a second migration


@pytest.mark.parametrize("status", [500, 429])
def test_service_errors_are_not_retried(fake: FakeLambda, status: int) -> None:
    fake.invoke_status = status
    result = remote.invoke_function("fn", {})
    assert result["status"] == Status.FAILED and "ServiceException" in result["message"]
    assert result["error"]["kind"] == "unreachable"
    assert len(fake.invocations) == 1


def test_without_permission_to_read_the_configuration_the_maximum_timeout_is_used(
    fake: FakeLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.configuration_status, fake.body = 403, RESULT
    seen: list[float] = []
    real = remote._function_timeout

    def spy(client: Any, name: str) -> float:
        seen.append(real(client, name))
        return seen[-1]

    monkeypatch.setattr(remote, "_function_timeout", spy)
    assert remote.invoke_function("fn", {})["status"] == Status.UP_TO_DATE
    assert seen == [float(remote.MAX_FUNCTION_TIMEOUT)]


def test_unreachable_lambda_is_a_failed_result() -> None:
    from tools.localpg import free_port

    with aws_env(AWS_ENDPOINT_URL_LAMBDA=f"http://127.0.0.1:{free_port()}"):
        result = remote.invoke_function("fn", {})
    assert result["error"]["kind"] == "unreachable"


def test_the_cli_prints_the_result_and_exits_by_its_status(
    fake: FakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.body = RESULT
    assert cli.main(["--json", "invoke", "--function", "fn", "status"]) == 0
    assert json.loads(capsys.readouterr().out) == RESULT
    fake.function_error = "Unhandled"
    fake.body = {
        "errorType": "MigrationFailed",
        "errorMessage": json.dumps(
            {
                **RESULT,
                "command": "downgrade",
                "status": "failed",
                "message": "refused",
                "error": {"kind": "confirmation_required", "message": "refused"},
            }
        ),
    }
    assert cli.main(["invoke", "--function", "fn", "downgrade", "0003", "--yes"]) == 1
    assert fake.invocations[-1]["payload"] == {
        "command": "downgrade",
        "revision": "0003",
        "confirm": "downgrade",
    }
    assert "downgrade: failed - refused" in capsys.readouterr().out


def test_the_documented_argument_order(fake: FakeLambda) -> None:
    fake.body = RESULT
    assert cli.main(["invoke", "--function", "fn", "status", "--json"]) == 0

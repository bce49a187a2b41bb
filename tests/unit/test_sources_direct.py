"""Direct invocation: payload -> Request, Result -> return value or MigrationFailed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.request import Command, Request
from lambda_fn.result import ErrorInfo, Result
from lambda_fn.sources import LambdaInfo, direct


@pytest.mark.parametrize("event", [{}, None, {"command": None}, {"command": "  "}])
def test_nothing_means_upgrade_to_head(event: Any) -> None:
    assert direct.parse(event) == Request(Command.UPGRADE, None, confirmed=False)


def test_fields_are_trimmed_and_a_numeric_relative_revision_is_accepted() -> None:
    assert direct.parse(
        {"command": " Downgrade ", "revision": -1, "confirm": "DOWNGRADE "}
    ) == Request(Command.DOWNGRADE, "-1", confirmed=True)
    assert direct.parse({"command": "history"}) == Request(Command.HISTORY)


@pytest.mark.parametrize("confirm", ["yes", "stamp", "upgrade", "", None])
def test_confirmation_must_name_the_command(confirm: Any) -> None:
    assert not direct.parse(
        {"command": "downgrade", "revision": "base", "confirm": confirm}
    ).confirmed


def test_a_boolean_confirmation_is_refused_outright() -> None:
    with pytest.raises(HookError) as caught:
        direct.parse({"command": "stamp", "revision": "base", "confirm": True})
    assert caught.value.kind is ErrorKind.BAD_REQUEST


@pytest.mark.parametrize(
    "event,expected",
    [
        (["upgrade"], "JSON array"),
        ("upgrade", "JSON string"),
        (42, "JSON number"),
        ({"action": "upgrade"}, "Unknown key(s) action"),
        ({"command": "upgrade", "rev": "0002"}, "Unknown key(s) rev"),
        ({"command": ["status"]}, '"command" must be a string'),
        ({"revision": {"id": 1}}, '"revision" must be a string'),
        ({"command": "migrate"}, "Unknown command 'migrate'"),
    ],
)
def test_bad_payloads_say_what_to_send(event: Any, expected: str) -> None:
    with pytest.raises(HookError) as caught:
        direct.parse(event)
    assert caught.value.kind is ErrorKind.BAD_REQUEST
    assert expected in caught.value.message


def test_success_is_the_result_object() -> None:
    result = Result(
        command="status", status=Status.UP_TO_DATE, to_revision="0005", message="at 0005"
    )
    outcome = direct.handle({"command": "status"}, lambda request: result, LambdaInfo())
    assert outcome.error is None and outcome.response["status"] == "up_to_date"
    json.dumps(outcome.response)


def test_failure_is_a_function_error_whose_message_is_the_result_object() -> None:
    error = ErrorInfo(ErrorKind.MIGRATION_FAILED, "Revision 0003 failed: boom", "0003")
    result = Result(command="upgrade", status=Status.FAILED, message=error.message, error=error)
    outcome = direct.handle({}, lambda request: result, LambdaInfo())
    assert isinstance(outcome.error, direct.MigrationFailed)
    carried = json.loads(str(outcome.error))
    assert carried == outcome.response
    assert carried["error"] == {
        "kind": "migration_failed",
        "message": "Revision 0003 failed: boom",
        "revision": "0003",
    }


def test_a_refused_payload_never_reaches_the_runner() -> None:
    calls: list[Request] = []

    def runner(request: Request) -> Result:
        calls.append(request)
        raise AssertionError("not reached")

    outcome = direct.handle({"command": "sql", "bogus": 1}, runner, LambdaInfo())
    assert calls == [] and outcome.result.status is Status.FAILED
    assert outcome.response["command"] == "sql"
    assert isinstance(outcome.error, direct.MigrationFailed)

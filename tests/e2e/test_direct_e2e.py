"""Direct invocation through the real runtime client: the result object, or a function error carrying it."""

from __future__ import annotations

import json
from typing import Any

from tests.support.lambda_runtime import Reply, StartFunction
from tests.support.moto_secrets import DbLogin

HEAD = "0005_recommendations"


def failed_result(reply: Reply) -> dict[str, Any]:
    """A function error whose message is the result object (what `aws lambda invoke` shows)."""
    error = reply.error
    assert error["errorType"] == "MigrationFailed", error
    result = json.loads(error["errorMessage"])
    assert result["status"] == "failed"
    return dict(result)


def test_empty_payload_upgrades_to_head_then_status_is_up_to_date(
    login: DbLogin, start_function: StartFunction
) -> None:
    fn = start_function(login)
    reply = fn.invoke({})  # what a CDK Trigger sends
    assert reply.kind == "response", reply
    assert reply.body["status"] == "applied"
    assert [r["revision"] for r in reply.body["applied"]][-1] == HEAD
    assert login.db.version() == [HEAD]

    again = fn.invoke({"command": "upgrade"})  # warm: the same execution environment
    assert again.body["status"] == "up_to_date" and again.body["applied"] == []
    status = fn.invoke({"command": "status"})
    assert status.body["status"] == "up_to_date" and status.body["to_revision"] == HEAD

    # the request ids correlate every log line; the caller is a metric dimension
    finished = fn.records("Invocation finished")
    assert [r["correlation_id"] for r in finished] == [r.request_id for r in fn.replies]
    assert [r["cold_start"] for r in finished] == [True, False, False]
    metrics = fn.metrics()
    assert [m["caller"] for m in metrics] == ["direct"] * 3
    assert [m["RevisionsApplied"] for m in metrics] == [[5.0], [0.0], [0.0]]
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AlembicHookE2E"


def test_destructive_commands_need_their_own_name_as_confirmation(
    login: DbLogin, start_function: StartFunction
) -> None:
    fn = start_function(login)
    assert fn.invoke({}).kind == "response"

    refused = failed_result(fn.invoke({"command": "downgrade", "revision": "0003_intents"}))
    assert refused["error"]["kind"] == "confirmation_required"
    assert '"confirm": "downgrade"' in refused["message"]
    wrong = failed_result(
        fn.invoke({"command": "downgrade", "revision": "0003_intents", "confirm": "stamp"})
    )
    assert wrong["error"]["kind"] == "confirmation_required"
    stamp = failed_result(fn.invoke({"command": "stamp", "revision": "base", "confirm": True}))
    assert stamp["error"]["kind"] == "bad_request"  # confirm must be the command's name, a string
    assert login.db.version() == [HEAD]

    done = fn.invoke({"command": "downgrade", "revision": "0003_intents", "confirm": "downgrade"})
    assert done.kind == "response" and done.body["status"] == "applied", done
    assert [r["direction"] for r in done.body["applied"]] == ["downgrade", "downgrade"]
    assert login.db.version() == ["0003_intents"]


def test_bad_requests_are_function_errors_that_say_what_to_send(
    login: DbLogin, start_function: StartFunction
) -> None:
    fn = start_function(login)
    unknown = failed_result(fn.invoke({"command": "migrate"}))
    assert unknown["error"]["kind"] == "bad_request" and "upgrade" in unknown["message"]
    typo = failed_result(fn.invoke({"command": "upgrade", "rev": "0002_messages"}))
    assert "rev" in typo["message"]
    not_object = failed_result(fn.invoke(["upgrade"]))
    assert "array" in not_object["message"]
    bad_revision = failed_result(fn.invoke({"revision": "9999_nope"}))
    assert bad_revision["error"]["kind"] == "bad_revision"
    assert login.db.version() == []  # nothing of the above touched the schema


def test_missing_secret(login: DbLogin, start_function: StartFunction) -> None:
    fn = start_function(
        login, DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf"
    )
    result = failed_result(fn.invoke({}))
    assert result["error"]["kind"] == "secret"
    assert "gone" in result["message"] and "ResourceNotFound" in result["message"]


def test_malformed_secret(
    login: DbLogin, start_function: StartFunction, secretsmanager: Any
) -> None:
    secretsmanager.put_secret_value(SecretId=login.secret_arn, SecretString="{not json")
    fn = start_function(login)
    result = failed_result(fn.invoke({}))
    assert result["error"]["kind"] == "secret" and "not a JSON object" in result["message"]

    secretsmanager.put_secret_value(
        SecretId=login.secret_arn,
        SecretString=json.dumps({"username": login.username, "password": login.password}),
    )
    fn = start_function(login)  # a new execution environment: no cached secret
    lacking = failed_result(fn.invoke({}))
    assert lacking["error"]["kind"] == "secret" and "lacks host" in lacking["message"]


def test_database_unreachable_fails_within_the_wait(
    login: DbLogin, start_function: StartFunction
) -> None:
    from tools.localpg import free_port

    fn = start_function(login, DB_HOST="127.0.0.1", DB_PORT=str(free_port()), DB_WAIT_SECONDS="1")
    result = failed_result(fn.invoke({}))
    assert result["error"]["kind"] == "unreachable"
    assert "security group" in result["message"]
    assert result["duration_ms"] < 10_000


def test_bad_settings_are_reported_not_raised_at_init(
    login: DbLogin, start_function: StartFunction
) -> None:
    fn = start_function(login, DB_SSLMODE="prefer")
    result = failed_result(fn.invoke({}))
    assert result["error"]["kind"] == "configuration" and "DB_SSLMODE" in result["message"]


def test_deadline_leaves_time_to_report(login: DbLogin, start_function: StartFunction) -> None:
    fn = start_function(login)
    # 3 s left: the report margin (at least 3 s) leaves the engine nothing, so it refuses to start
    result = failed_result(fn.invoke({}, timeout_ms=3_000))
    assert result["error"]["kind"] == "deadline", result
    assert "raise the function timeout" in result["message"]
    assert login.db.version() == []

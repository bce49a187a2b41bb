"""CloudFormation custom resource through the real runtime client: one response per request, PUT to the
ResponseURL whatever failed, within 4096 bytes, with a stable PhysicalResourceId."""

from __future__ import annotations

from typing import Any

from tests.support.events import cloudformation_event
from tests.support.lambda_runtime import Function, StartFunction
from tests.support.moto_secrets import DbLogin
from tests.support.response_recorder import ResponseRecorder

HEAD = "0005_recommendations"


def respond(
    fn: Function, cfn: ResponseRecorder, request_type: str, **kwargs: Any
) -> dict[str, Any]:
    """Send one request; return its one response (the function itself returns normally)."""
    url = cfn.new_url()
    event = cloudformation_event(request_type, url, **kwargs)
    reply = fn.invoke(event)
    assert reply.kind == "response", reply
    [(headers, body)] = cfn.raw(url)
    assert len(body) <= 4096
    assert headers.get("Content-Type") == ""  # the presigned URL is signed without a content type
    [response] = cfn.responses(url)
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        assert response[key] == event[key]
    return response


def test_create_update_rollback_delete(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    fn = start_function(login)
    created = respond(
        fn, cfn, "Create", properties={"TargetRevision": "0003_intents", "MigrationsHash": "a1"}
    )
    assert created["Status"] == "SUCCESS", created
    assert created["PhysicalResourceId"] == "RunMigrations-migrations"
    assert created["Data"] == {
        "FromRevision": "",
        "ToRevision": "0003_intents",
        "AppliedCount": "3",
        "Status": "applied",
        "RunId": "1",
    }
    assert login.db.query(
        "SELECT caller, caller_reference->>'logical_resource_id' FROM alembic_hook_runs"
    ) == [["cloudformation", "RunMigrations"]]  # the stack's request leads to its ledger row
    assert login.db.version() == ["0003_intents"]
    physical = created["PhysicalResourceId"]

    updated = respond(
        fn,
        cfn,
        "Update",
        physical_id=physical,
        properties={"TargetRevision": "head", "MigrationsHash": "b2"},
        old_properties={"TargetRevision": "0003_intents", "MigrationsHash": "a1"},
    )
    assert updated["Status"] == "SUCCESS", updated
    assert updated["PhysicalResourceId"] == physical  # never a replacement
    assert (
        updated["Data"]["FromRevision"] == "0003_intents" and updated["Data"]["ToRevision"] == HEAD
    )
    assert updated["Data"]["AppliedCount"] == "2"

    # a later stack update fails elsewhere; CloudFormation rolls back with the old properties swapped in
    rollback = respond(
        fn,
        cfn,
        "Update",
        physical_id=physical,
        properties={"TargetRevision": "0003_intents", "MigrationsHash": "a1"},
        old_properties={"TargetRevision": "head", "MigrationsHash": "b2"},
    )
    assert rollback["Status"] == "SUCCESS", rollback
    assert rollback["Data"]["Status"] == "up_to_date" and rollback["Data"]["AppliedCount"] == "0"
    assert rollback["PhysicalResourceId"] == physical
    assert login.db.version() == [HEAD]  # never downgraded

    deleted = respond(
        fn, cfn, "Delete", physical_id=physical, properties={"TargetRevision": "head"}
    )
    assert deleted["Status"] == "SUCCESS" and deleted["PhysicalResourceId"] == physical
    assert login.db.version() == [HEAD]
    assert all(m["caller"] == "cloudformation" for m in fn.metrics())
    finished = fn.records("Invocation finished")  # correlated by CloudFormation's RequestId
    assert [r["correlation_id"] for r in finished] == [
        r["RequestId"] for r in (created, updated, rollback, deleted)
    ]


def test_numeric_looking_and_absent_target_revision(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    fn = start_function(login)
    created = respond(fn, cfn, "Create")  # no TargetRevision: head
    assert created["Status"] == "SUCCESS" and created["Data"]["ToRevision"] == HEAD


def test_delete_succeeds_without_settings_credentials_or_database(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    from tools.localpg import free_port

    fn = start_function(
        login,
        DB_SSLMODE="bogus",
        DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:1:secret:gone",
        AWS_ENDPOINT_URL_SECRETS_MANAGER=f"http://127.0.0.1:{free_port()}",
    )
    deleted = respond(fn, cfn, "Delete", physical_id="RunMigrations-migrations")
    assert deleted["Status"] == "SUCCESS"
    assert deleted["Data"]["Status"] == "skipped"
    assert login.db.version() == []


def test_failures_are_failed_responses_with_a_reason(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    login.db.query(
        f"CREATE TABLE query_intents (id int); ALTER TABLE query_intents OWNER TO {login.username}"
    )
    fn = start_function(login)
    failed = respond(fn, cfn, "Create", properties={"TargetRevision": "head"})
    assert failed["Status"] == "FAILED"
    assert failed["Reason"].startswith("[migration_failed] Revision 0003_intents failed:")
    assert "stream 2026/11/22/[$LATEST]e2e" in failed["Reason"]
    assert failed["Data"]["ToRevision"] == "0002_messages"
    # so the rollback's Delete names it
    assert failed["PhysicalResourceId"] == "RunMigrations-migrations"

    unknown = respond(fn, cfn, "Create", properties={"TargetRevision": "0009_future"})
    assert unknown["Status"] == "FAILED" and unknown["Reason"].startswith("[bad_revision]")

    # the Delete that follows a failed Create succeeds and leaves the schema alone
    deleted = respond(fn, cfn, "Delete", physical_id=failed["PhysicalResourceId"])
    assert deleted["Status"] == "SUCCESS"
    assert login.db.version() == ["0002_messages"]


def test_bad_settings_are_a_failed_response(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    fn = start_function(login, DB_WAIT_SECONDS="-1")
    failed = respond(fn, cfn, "Create")
    assert failed["Status"] == "FAILED" and "DB_WAIT_SECONDS" in failed["Reason"]


def test_malformed_requests_still_get_exactly_one_response(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    fn = start_function(login)
    bogus = respond(fn, cfn, "Upgrade")
    assert bogus["Status"] == "FAILED" and "RequestType" in bogus["Reason"]

    url = cfn.new_url()
    fn.invoke(
        {"RequestType": "Create", "ResponseURL": url, "ResourceProperties": ["not", "an", "object"]}
    )
    [response] = cfn.responses(url)
    assert response["Status"] == "FAILED" and "ResourceProperties" in response["Reason"]
    assert response["StackId"] == "" and response["PhysicalResourceId"] == "database-migrations"

    url = cfn.new_url()
    fn.invoke(
        {
            "RequestType": "Update",
            "ResponseURL": url,
            "LogicalResourceId": "X" * 5000,
            "ResourceProperties": {"TargetRevision": "0001_threads" + " " * 10_000 + "x"},
        }
    )
    [(_headers, body)] = cfn.raw(url)
    assert len(body) <= 4096
    assert login.db.version() == []


def test_unreachable_database_is_a_failed_response_in_time(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    from tools.localpg import free_port

    fn = start_function(login, DB_PORT=str(free_port()), DB_WAIT_SECONDS="600")
    # 12 s left: the engine's wait is cut to the invocation's time less the margin, so the response still goes
    url = cfn.new_url()
    reply = fn.invoke(cloudformation_event("Create", url), timeout_ms=12_000)
    assert reply.kind == "response"
    [failed] = cfn.responses(url)
    assert failed["Status"] == "FAILED" and failed["Reason"].startswith("[unreachable]")

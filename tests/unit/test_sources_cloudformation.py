"""CloudFormation: request -> Request (or no run at all), Result -> one response PUT within 4096 bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.request import Command, Origin, Request
from lambda_fn.result import ErrorInfo, Result, RevisionRun
from lambda_fn.sources import LambdaInfo, cloudformation
from tests.support.events import cloudformation_event
from tests.support.response_recorder import ResponseRecorder

INFO = LambdaInfo("req-1", "/aws/lambda/fn", "2026/11/22/[$LATEST]abc")


@pytest.fixture(scope="module")
def responses() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.close()


class Runner:
    def __init__(self, result: Result) -> None:
        self.result = result
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Result:
        self.requests.append(request)
        return self.result


UP = Result(
    command="upgrade",
    status=Status.APPLIED,
    from_revision="0001",
    to_revision="0003",
    applied=[RevisionRun("0002", "", "upgrade", 1.0), RevisionRun("0003", "", "upgrade", 1.0)],
    message="upgraded 2 revision(s): 0001 -> 0003",
)


@pytest.mark.parametrize(
    "properties,expected",
    [
        (None, "head"),
        ({}, "head"),
        ({"TargetRevision": ""}, "head"),
        ({"TargetRevision": " 0003 "}, "0003"),
        ({"TargetRevision": 3}, "3"),
        ({"ServiceToken": "arn", "Other": "1"}, "head"),
    ],
)
def test_target_revision(properties: Any, expected: str) -> None:
    assert cloudformation.target_revision(properties) == expected


@pytest.mark.parametrize(
    "properties",
    [["x"], "TargetRevision=head", {"TargetRevision": ["head"]}, {"TargetRevision": True}],
)
def test_bad_properties(properties: Any) -> None:
    with pytest.raises(HookError) as caught:
        cloudformation.target_revision(properties)
    assert caught.value.kind is ErrorKind.BAD_REQUEST


def test_physical_resource_id_is_stable() -> None:
    create = cloudformation_event("Create", "http://x/")
    assert cloudformation.physical_resource_id(create) == "RunMigrations-migrations"
    # Create ignores a stray id; Update and Delete keep whatever id the resource has
    assert (
        cloudformation.physical_resource_id({**create, "PhysicalResourceId": "other"})
        == "RunMigrations-migrations"
    )
    update = cloudformation_event(
        "Update", "http://x/", physical_id="db-migrations-from-an-older-version"
    )
    assert cloudformation.physical_resource_id(update) == "db-migrations-from-an-older-version"
    assert (
        cloudformation.physical_resource_id({**update, "PhysicalResourceId": ""})
        == "RunMigrations-migrations"
    )
    assert len(cloudformation.physical_resource_id({"LogicalResourceId": "L" * 5000})) == 1024
    assert cloudformation.physical_resource_id({}) == "database-migrations"


def test_create_runs_an_upgrade_and_reports_success(responses: ResponseRecorder) -> None:
    url = responses.new_url()
    runner = Runner(UP)
    event = cloudformation_event("Create", url, properties={"TargetRevision": "0003"})
    outcome = cloudformation.handle(event, runner, INFO)
    origin = Origin(
        "cloudformation",
        {
            "stack_id": event["StackId"],
            "logical_resource_id": "RunMigrations",
            "request_id": event["RequestId"],
            "lambda_request_id": "req-1",
        },
    )
    # the ledger's references
    assert runner.requests == [Request(Command.UPGRADE, "0003", origin=origin)]
    assert outcome.delivered
    [(headers, body)] = responses.raw(url)
    assert headers["Content-Type"] == "" and int(headers["Content-Length"]) == len(body)
    response = json.loads(body)
    assert response["Status"] == "SUCCESS" and response["Reason"] == UP.message
    assert response["Data"] == {
        "FromRevision": "0001",
        "ToRevision": "0003",
        "AppliedCount": "2",
        "Status": "applied",
        "RunId": "",
    }
    assert response["NoEcho"] is False


def test_delete_never_runs(responses: ResponseRecorder) -> None:
    url = responses.new_url()
    runner = Runner(UP)
    cloudformation.handle(cloudformation_event("Delete", url, physical_id="p-1"), runner, INFO)
    assert runner.requests == []
    [response] = responses.responses(url)
    assert response["Status"] == "SUCCESS" and response["PhysicalResourceId"] == "p-1"


def test_a_bug_in_the_runner_is_a_failed_response(responses: ResponseRecorder) -> None:
    def broken(request: Request) -> Result:
        raise KeyError("whatever")

    url = responses.new_url()
    outcome = cloudformation.handle(
        cloudformation_event("Update", url, physical_id="p-1"), broken, INFO
    )
    [response] = responses.responses(url)
    assert response["Status"] == "FAILED" and response["Reason"].startswith(
        "[internal] Unexpected KeyError"
    )
    assert "stream 2026/11/22/[$LATEST]abc" in response["Reason"]
    assert outcome.result.status is Status.FAILED


@pytest.mark.parametrize("message", ["x" * 10_000, "é" * 5000, '"\\\n' * 3000, "\U0001f4a5" * 2000])
def test_the_reason_gives_way_to_the_4096_byte_limit(message: str) -> None:
    result = Result(
        command="upgrade",
        status=Status.FAILED,
        message=message,
        error=ErrorInfo(ErrorKind.MIGRATION_FAILED, message),
    )
    body = cloudformation.response_body(cloudformation_event("Create", "http://x/"), result, INFO)
    assert 4000 < len(body) <= 4096
    response = json.loads(body)
    assert response["Reason"].startswith("[migration_failed] ") and response["Reason"].endswith(
        "..."
    )
    assert response["StackId"].startswith("arn:aws:cloudformation:")


def test_even_a_monstrous_request_gets_a_body_within_the_limit() -> None:
    event = {
        "RequestType": "Create",
        "ResponseURL": "http://x/",
        "StackId": "s" * 9000,
        "RequestId": "r" * 9000,
        "LogicalResourceId": "l" * 9000,
    }
    result = Result(
        command="upgrade",
        status=Status.APPLIED,
        from_revision="f" * 5000,
        to_revision="t" * 5000,
        message="m" * 5000,
    )
    assert len(cloudformation.response_body(event, result, INFO)) <= 4096


@pytest.mark.parametrize("status,attempts", [(403, 1), (500, cloudformation.PUT_ATTEMPTS)])
def test_put_retries_server_errors_only(status: int, attempts: int) -> None:
    endpoint = ResponseRecorder(status=status)
    url = endpoint.new_url()
    try:
        assert cloudformation.put_response(url, b"{}") is False
        # an expired presigned URL stays expired: no retry
        assert len(endpoint.raw(url)) == attempts
    finally:
        endpoint.close()


@pytest.mark.parametrize(
    "url", ["", "ftp://bucket/key", "not a url", "http://", "file:///etc/passwd"]
)
def test_a_url_that_cannot_be_put_to_is_not_delivered(url: str) -> None:
    assert cloudformation.put_response(url, b"{}") is False


@pytest.mark.parametrize("url", [["http://x/"], None, "s3://bucket/key"])
def test_without_a_usable_response_url_nothing_runs(url: Any) -> None:
    event = cloudformation_event("Create", "http://x/")
    event["ResponseURL"] = url
    runner = Runner(UP)
    outcome = cloudformation.handle(event, runner, INFO)
    assert outcome.delivered is False and runner.requests == []

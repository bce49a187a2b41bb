"""CodePipeline: UserParameters -> Request; Result -> exactly one job result, within the API's limits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.request import Command, Request
from lambda_fn.result import ErrorInfo, Result, RevisionRun
from lambda_fn.sources import LambdaInfo, codepipeline
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.events import codepipeline_event
from tests.support.inprocess import aws_env

INFO = LambdaInfo("req-1", "/aws/lambda/fn", "2026/11/22/[$LATEST]abc")


@pytest.fixture(scope="module")
def recorder() -> Iterator[CodePipelineRecorder]:
    server = CodePipelineRecorder()
    with aws_env(AWS_ENDPOINT_URL_CODEPIPELINE=server.url):
        yield server
    server.close()


def event(user_parameters: str | None = None) -> tuple[str, dict[str, Any]]:
    job_id = str(uuid.uuid4())
    return job_id, codepipeline_event(job_id, user_parameters)


def applied(count: int = 2, **kwargs: Any) -> Result:
    runs = [RevisionRun(f"{i:04d}_rev", "d", "upgrade", 12.0) for i in range(1, count + 1)]
    values: dict[str, Any] = {
        "command": "upgrade",
        "status": Status.APPLIED,
        "from_revision": None,
        "to_revision": runs[-1].revision,
        "applied": runs,
        "duration_ms": 1530.0,
        "database": "app@db:5432/app",
        "message": "upgraded",
    }
    return Result(**{**values, **kwargs})


def failed(kind: ErrorKind, message: str = "it broke", **kwargs: Any) -> Result:
    return Result(
        command="upgrade",
        status=Status.FAILED,
        message=message,
        error=ErrorInfo(kind, message, kwargs.pop("revision", None)),
        **kwargs,
    )


@pytest.mark.parametrize("raw", [None, "", "   ", "{}"])
def test_no_parameters_upgrade_to_head(raw: str | None) -> None:
    assert codepipeline.parse(event(raw)[1]) == Request(Command.UPGRADE)


def test_parameters() -> None:
    assert codepipeline.parse(event('{"revision": " 0003_intents "}')[1]) == Request(
        Command.UPGRADE, "0003_intents"
    )
    assert codepipeline.parse(event('{"command": "STATUS"}')[1]) == Request(Command.STATUS)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("head", "not valid JSON (at character 0)"),
        ('"head"', "must be a JSON object"),
        ('{"revision": "head", "dry_run": true}', "unknown key(s) dry_run"),
        ('{"command": "stamp", "revision": "base"}', "only upgrade or status, not stamp"),
        ('{"command": "sql"}', "only upgrade or status"),
        ('{"command": "nope"}', "Unknown command 'nope'"),
        ('{"revision": ["a"]}', '"revision" must be a string'),
    ],
)
def test_bad_parameters(raw: str, expected: str) -> None:
    with pytest.raises(HookError) as caught:
        codepipeline.parse(event(raw)[1])
    assert caught.value.kind is ErrorKind.BAD_REQUEST and caught.value.kind.is_configuration
    assert expected in caught.value.message


def test_parameters_are_never_echoed() -> None:
    with pytest.raises(HookError) as caught:
        codepipeline.parse(event('{"revision": "head", "password": "hunter2-secret"}')[1])
    assert "hunter2" not in caught.value.message
    with pytest.raises(HookError) as caught:
        codepipeline.parse(event("{hunter2-secret}")[1])
    assert "hunter2" not in caught.value.message


@pytest.mark.parametrize(
    "mangled",
    [
        {"CodePipeline.job": {"id": "x"}},
        {"CodePipeline.job": {"id": "x", "data": []}},
        {
            "CodePipeline.job": {
                "id": "x",
                "data": {"actionConfiguration": {"configuration": {"UserParameters": 7}}},
            }
        },
    ],
)
def test_a_mangled_event_is_a_bad_request(mangled: dict[str, Any]) -> None:
    with pytest.raises(HookError) as caught:
        codepipeline.parse(mangled)
    assert caught.value.kind is ErrorKind.BAD_REQUEST


def test_summary_and_output_variables() -> None:
    result = applied(3, lock_wait_ms=2500.0)
    assert codepipeline.summary(result) == (
        "Applied 3 revision(s), base -> 0003_rev, in 1.5 s: 0001_rev (12 ms), "
        "0002_rev (12 ms), 0003_rev (12 ms). Waited 2.5 s for the migration lock."
    )
    assert codepipeline.output_variables(result) == {
        "status": "applied",
        "from_revision": "base",
        "to_revision": "0003_rev",
        "applied_count": "3",
        "run_id": "none",
    }
    assert codepipeline.output_variables(replace(result, run_id=7))["run_id"] == "7"
    assert codepipeline.summary(replace(result, run_id=7)).endswith(
        "Ledger run 7 (`alembic-hook log`)."
    )
    skipped = Result(command="upgrade", status=Status.SKIPPED, message="SKIP_MIGRATIONS is set")
    # never an empty value
    assert codepipeline.output_variables(skipped)["from_revision"] == "unknown"
    assert codepipeline.summary(skipped) == "upgrade skipped: SKIP_MIGRATIONS is set (0 ms)."


def test_summary_fits_the_api_limit_with_a_long_history() -> None:
    summary = codepipeline.summary(applied(1000))
    assert len(summary) == codepipeline.SUMMARY_LIMIT and summary.endswith("...")


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_failure_type_follows_the_error_kind(kind: ErrorKind) -> None:
    details = codepipeline.failure_details(failed(kind), INFO)
    assert details["type"] == ("ConfigurationError" if kind.is_configuration else "JobFailed")


def test_failure_message_says_what_where_and_fits() -> None:
    result = failed(
        ErrorKind.MIGRATION_FAILED,
        "Revision 0003 failed: boom. Fix it and run again.",
        revision="0003",
        database="app@db/app",
        to_revision="0002",
    )
    message = codepipeline.failure_details(result, INFO)["message"]
    assert message == (
        "Migration upgrade failed [migration_failed] at revision 0003: Revision 0003 failed: boom. "
        "Fix it and run again. The database is at 0002. Logs: log group /aws/lambda/fn, stream "
        "2026/11/22/[$LATEST]abc, request req-1."
    )
    huge = codepipeline.failure_details(failed(ErrorKind.INTERNAL, "é" * 9000), INFO)["message"]
    assert len(huge) == codepipeline.MESSAGE_LIMIT


def test_reports_success_once(recorder: CodePipelineRecorder) -> None:
    job_id, ev = event()
    outcome = codepipeline.handle(ev, lambda request: applied(), INFO)
    assert outcome.delivered and outcome.response["job_id"] == job_id
    [sent] = recorder.for_job(job_id)
    assert sent.operation == "PutJobSuccessResult" and sent.accepted
    assert sent.params["executionDetails"]["externalExecutionId"] == "req-1"


def test_a_bug_in_the_runner_still_fails_the_job(recorder: CodePipelineRecorder) -> None:
    def broken(request: Request) -> Result:
        raise RuntimeError("secret-looking detail")

    job_id, ev = event()
    outcome = codepipeline.handle(ev, broken, INFO)
    [sent] = recorder.for_job(job_id)
    assert (
        sent.operation == "PutJobFailureResult"
        and sent.params["failureDetails"]["type"] == "JobFailed"
    )
    assert "RuntimeError" in sent.params["failureDetails"]["message"]
    assert "secret-looking" not in json.dumps(sent.params)
    assert outcome.result.error is not None and outcome.result.error.kind is ErrorKind.INTERNAL


def test_without_a_job_id_nothing_runs_and_nothing_is_reported(
    recorder: CodePipelineRecorder,
) -> None:
    calls: list[Request] = []

    def runner(request: Request) -> Result:
        calls.append(request)
        return applied()

    outcome = codepipeline.handle({"CodePipeline.job": {"id": ""}}, runner, INFO)
    assert calls == [] and not outcome.delivered
    assert "" not in recorder.results and "None" not in recorder.results


@pytest.mark.parametrize(
    "code,delivered",
    [
        ("InvalidJobStateException", True),
        ("JobNotFoundException", True),
        ("ValidationException", False),
        ("ThrottlingException", False),
    ],
)
def test_reporting_errors(recorder: CodePipelineRecorder, code: str, delivered: bool) -> None:
    client = codepipeline._client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_job_success_result", service_error_code=code, http_status_code=400
        )
        assert codepipeline.report(str(uuid.uuid4()), applied(), INFO) is delivered
        stub.assert_no_pending_responses()


def test_no_route_to_codepipeline_is_not_delivered_and_does_not_raise() -> None:
    from tools.localpg import free_port

    with aws_env(AWS_ENDPOINT_URL_CODEPIPELINE=f"http://127.0.0.1:{free_port()}"):
        assert codepipeline.report(str(uuid.uuid4()), applied(), INFO) is False

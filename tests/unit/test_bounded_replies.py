"""Every reply fits its channel (issue 18, point 8): sixty pending revisions with two refused findings each
(a 64 KB result) make a direct function error whose Lambda error object fits Step Functions' 32,768
characters of cause and still parses, with the kind, the first refusals and the count kept; CodePipeline's
message and CloudFormation's body carry the count too."""

from __future__ import annotations

import json
import uuid
from typing import Any

from lambda_fn.bounded import fit_result
from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError
from lambda_fn.findings import Finding, FindingClass
from lambda_fn.result import Result
from lambda_fn.sources import cloudformation, codepipeline, direct
from lambda_fn.sources.base import LambdaInfo

STEP_FUNCTIONS_CAUSE = 32_768


def finding(rev: int, n: int, refused: bool = True) -> Finding:
    return Finding(
        revision=f"r{rev:02d}",
        rule="ban-drop-column",
        category=FindingClass.INCOMPATIBLE,
        statement=f"ALTER TABLE tenant_table_{rev}_{n} DROP COLUMN legacy_column_{n}"
        + " -- x" * 60,
        table=f"tenant_table_{rev}_{n}",
        fix="expand now, contract after the deploy: " + "y" * 120,
        refused=refused,
    )


def refused_result() -> Result:
    result = Result.failure(
        "upgrade",
        HookError(ErrorKind.UNSAFE_MIGRATION, "Refused before any DDL: 120 finding(s).", "r00"),
    )
    result.pending = [f"r{i:02d}" for i in range(60)]
    result.findings = [finding(i, n) for i in range(60) for n in range(2)]
    # an advisory one among them: it goes first
    result.findings.insert(5, finding(99, 0, refused=False))
    return result


def lambda_error_object(exc: Exception) -> str:
    """What Lambda makes of a raised exception, and Step Functions hands a Catch as Cause."""
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "requestId": str(uuid.uuid4()),
            "stackTrace": [
                '  File "/var/task/lambda_fn/handler.py", line 60, in handler\n'
                "    raise outcome.error\n"
            ]
            * 4,
        }
    )


def test_a_64_kb_failure_fits_a_step_functions_cause_and_keeps_what_matters() -> None:
    result = refused_result()
    assert len(json.dumps(result.to_dict(), default=str)) > 60_000  # the campaign's size
    outcome = direct.render(result)
    assert outcome.error is not None
    cause = lambda_error_object(outcome.error)
    assert len(cause) <= STEP_FUNCTIONS_CAUSE
    # what the definition's parse does
    data: dict[str, Any] = json.loads(json.loads(cause)["errorMessage"])
    assert data["error"]["kind"] == "unsafe_migration" and data["error"]["revision"] == "r00"
    assert data["status"] == "failed" and data["message"].startswith("Refused before any DDL")
    kept = data["findings"]
    assert kept and all(f["refused"] for f in kept)  # refusals first; the advisory one gave way
    # the first refusals, in order
    assert [f["revision"] for f in kept[:3]] == [
        "r00",
        "r00",
        "r01",
    ]
    assert data["truncated"]["findings"] == {
        "total": 121,
        "kept": len(kept),
        "refused": 120,
        "omitted": 121 - len(kept),
    }
    assert data["pending"][:1] == ["r00"]


def test_a_small_result_is_left_alone() -> None:
    result = Result.failure("upgrade", HookError(ErrorKind.MIGRATION_FAILED, "boom", "r1"))
    data = result.to_dict()
    assert fit_result(data, 10_000) is data and "truncated" not in direct.render(result).response


def test_a_huge_message_is_cut_but_the_kind_stays() -> None:
    result = Result.failure("upgrade", HookError(ErrorKind.MIGRATION_FAILED, "m" * 100_000, "r1"))
    data = fit_result(json.loads(json.dumps(result.to_dict())), 5_000)
    assert len(json.dumps(data, separators=(",", ":"))) <= 5_000
    assert data["error"]["kind"] == "migration_failed" and data["error"]["revision"] == "r1"
    assert data["truncated"]["message"] == "cut"


def test_codepipeline_and_cloudformation_carry_the_count_within_their_limits() -> None:
    result = refused_result()
    message = codepipeline.failure_details(result, LambdaInfo())["message"]
    assert len(message) <= codepipeline.MESSAGE_LIMIT
    assert (
        "[unsafe_migration]" in message
        and "121 finding(s): 120 refused, 0 acknowledged." in message
    )
    assert "Findings: (1) r00 ban-drop-column" in message
    event = {
        "RequestType": "Create",
        "ResponseURL": "https://x",
        "StackId": "s",
        "RequestId": "q",
        "LogicalResourceId": "RunMigrations",
    }
    body = cloudformation.response_body(event, result, LambdaInfo())
    assert len(body) <= cloudformation.MAX_BODY
    reason = json.loads(body)["Reason"]
    assert reason.startswith("[unsafe_migration]") and "121 finding(s): 120 refused" in reason

"""The workflow helper's jobs on their own: the summary's arithmetic, the Distributed Map's ResultWriter files
(in the format AWS documents; moto writes only the manifest), pruning in moto's RDS, the CloudFormation answer's
bounds."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from alembic_hook_cdk.workflow.runtime import helper
from tests.support.inprocess import FAKE_AWS
from tests.support.response_recorder import ResponseRecorder


@pytest.fixture
def aws() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_AWS.items():
            patch.setenv(key, value)
        for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
            patch.delenv(key)
        with mock_aws():
            yield


def _result(status: str, kind: str | None = None, name: str = "t") -> dict[str, Any]:
    result: dict[str, Any] = {"target": {"id": name}, "status": status}
    if kind:
        result["error"] = {"kind": kind, "message": f"{kind} happened"}
    return result


@pytest.mark.parametrize(
    ("failed", "tolerated", "ok"),
    [(0, 0, True), (1, 0, False), (2, 20, True), (3, 20, False), (12, 100, True)],
)
def test_the_tolerated_percentage_is_the_share_of_failed_databases(
    failed: int, tolerated: float, ok: bool
) -> None:
    results = [_result("failed", "secret", f"t{i}") for i in range(failed)]
    results += [_result("applied", name=f"ok{i}") for i in range(12 - failed)]
    summary = helper.summary_of(results, tolerated)
    assert summary["ok"] is ok and summary["failed"] == failed and summary["databases"] == 12
    assert json.loads(summary["cause"])["failed"] == failed


def test_a_database_without_a_result_counts_as_failed() -> None:
    summary = helper.summary_of([None, _result("up_to_date")], 0)
    (failure,) = summary["failures"]
    assert failure["id"] == "#0" and failure["kind"] == "execution_failed" and failure["message"]
    assert summary["up_to_date"] == 1 and not summary["ok"]


def test_the_summary_reads_a_map_runs_result_files(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="results")
    succeeded = [
        {
            "ExecutionArn": f"arn:x:{i}",
            "Status": "SUCCEEDED",
            "Output": json.dumps(_result("applied", name=f"t{i}")),
        }
        for i in range(3)
    ]
    failed = [
        {"ExecutionArn": "arn:x:9", "Status": "FAILED", "Error": "States.Runtime", "Cause": "broke"}
    ]
    s3.put_object(
        Bucket="results", Key="p/run/SUCCEEDED_0.json", Body=json.dumps(succeeded).encode()
    )
    s3.put_object(Bucket="results", Key="p/run/FAILED_0.json", Body=json.dumps(failed).encode())
    manifest = {
        "DestinationBucket": "results",
        "MapRunArn": "arn:maprun",
        "ResultFiles": {
            "SUCCEEDED": [{"Key": "p/run/SUCCEEDED_0.json", "Size": 1}],
            "FAILED": [{"Key": "p/run/FAILED_0.json", "Size": 1}],
            "PENDING": [],
        },
    }
    s3.put_object(Bucket="results", Key="p/run/manifest.json", Body=json.dumps(manifest).encode())
    summary = helper.handler(
        {
            "action": "summarize",
            "tolerated_failure_percentage": 25,
            "result_writer": {"Bucket": "results", "Key": "p/run/manifest.json"},
        },
        None,
    )
    assert (summary["databases"], summary["applied"], summary["failed"], summary["ok"]) == (
        4,
        3,
        1,
        True,
    )
    assert "results" not in summary  # written results stay in S3


def test_pruning_keeps_the_newest_of_the_hooks_own_and_the_current_one(aws: None) -> None:
    rds = boto3.client("rds", region_name="us-east-1")
    rds.create_db_instance(
        DBInstanceIdentifier="db1",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="not-used-1",
    )
    for name in ("hook-a", "hook-b", "hook-c", "hook-d", "hookish-x", "team-y"):
        rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier="db1")
    pruned = helper.handler(
        {
            "action": "prune",
            "kind": "instance",
            "source": "db1",
            "prefix": "hook",
            "keep": 2,
            "current": "hook-a",
        },
        None,
    )
    left = {
        s["DBSnapshotIdentifier"]
        for s in rds.describe_db_snapshots(DBInstanceIdentifier="db1", SnapshotType="manual")[
            "DBSnapshots"
        ]
    }
    # current is never deleted
    assert set(pruned["deleted"]) == {"hook-b"} and "hook-a" in pruned["kept"]
    # "hookish-" is not "hook-"
    assert left == {
        "hook-a",
        "hook-c",
        "hook-d",
        "hookish-x",
        "team-y",
    }


def test_the_cloudformation_answer_fits_4096_bytes_whatever_it_carries() -> None:
    recorder = ResponseRecorder()
    try:
        url = recorder.new_url()
        cfn = {"ResponseURL": url, "StackId": "s", "RequestId": "r", "LogicalResourceId": "l"}
        helper.respond(
            cfn, "FAILED", reason="x" * 10_000, data={f"K{i}": "v" * 500 for i in range(20)}
        )
        ((headers, body),) = recorder.raw(url)
    finally:
        recorder.close()
    assert len(body) <= 4096 and json.loads(body)["Status"] == "FAILED"
    assert headers.get("Content-Type") == ""


def test_the_reason_names_the_workflows_summary() -> None:
    summary = json.dumps({"message": "1 database: 0 applied, 0 up to date, 1 failed (secret: 1)"})
    nested = {
        "Error": "States.TaskFailed",
        "Cause": json.dumps({"Status": "FAILED", "Cause": summary}),
    }
    assert helper.reason_from_error(nested) == (
        "Migration failed: 1 database: 0 applied, 0 up to date, 1 failed (secret: 1)"
    )
    assert "budget" in (helper.reason_from_error({"Error": "States.Timeout"}) or "")
    assert (
        helper.reason_from_error({"Error": "Lambda.Unknown", "Cause": "not json"})
        == "Migration failed: Lambda.Unknown: not json"
    )


def test_the_helper_asset_runs_on_its_own_files() -> None:
    """The asset is helper.py plus the standard-library modules of lambda_fn it imports: with no site-packages
    and no checkout on the path, it imports, reads the contract and answers through the shipped responder."""
    import subprocess
    import sys

    from alembic_hook_cdk.workflow.helper import helper_asset

    root = helper_asset()
    probe = (
        "import sys; sys.path.insert(0, '.'); import helper, lambda_fn.contract, lambda_fn.aws.cfn_response as r; "
        "print(helper.__file__, lambda_fn.contract.__file__, r.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", probe],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert all(path.startswith(str(root)) for path in done.stdout.split()), done.stdout
    shipped = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    assert shipped == [
        "helper.py",
        "lambda_fn/__init__.py",
        "lambda_fn/aws/__init__.py",
        "lambda_fn/aws/cfn_response.py",
        "lambda_fn/contract.py",
    ]

"""The CloudFormation deploy gate, executed: a custom-resource event to the helper starts the gate's execution,
which runs the workflow nested (.sync:2) and answers the ResponseURL exactly once; an execution that ends
without answering is answered from its status change (layer 2, invoked here with EventBridge's documented event:
its delivery is AWS's and not reproduced)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alembic_hook_cdk.workflow.runtime import helper
from lambda_fn import handler
from tests.support import moto_sfn
from tests.support.database import Database
from tests.support.inprocess import FakeContext
from tests.support.lambda_service import InProcess
from tests.support.projects import Rev
from tests.support.response_recorder import ResponseRecorder
from tests.support.workflow_rig import GATE, HOOK, Rig, asset_project, workflow_rig


@pytest.fixture
def recorder() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.close()


def _event(
    rig: Rig, url: str, request_type: str = "Create", revision: str = "g2"
) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "Migrations",
        "ResourceType": "Custom::DbMigrationWorkflow",
        "ServiceToken": moto_sfn.function_arn("helper"),
        "ResourceProperties": {
            "GateStateMachineArn": rig.machines[GATE],
            "TargetRevision": revision,
            "Snapshot": "false",
        },
    }


def _gate_execution(event: dict[str, Any]) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:{GATE}:cfn-{event['RequestId']}"


def _project(tmp_path: Path, fail: bool = False) -> Path:
    return asset_project(
        tmp_path,
        [
            Rev("g1", None, "op.execute('CREATE TABLE g1 (id int)')"),
            Rev("g2", "g1", "op.execute('CREATE TABLE g1 (id int)')" if fail else "pass"),
        ],
    )


@pytest.mark.parametrize("fail", [False, True], ids=["migrated", "failed"])
def test_the_gate_answers_cloudformation_exactly_once(
    fail: bool,
    *,
    db: Database,
    tmp_path: Path,
    recorder: ResponseRecorder,
    one_template: dict[str, Any],
    moto_endpoint: str,
) -> None:
    with workflow_rig(
        one_template, _project(tmp_path, fail), moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        url = recorder.new_url()
        event = _event(rig, url)
        started = helper.handler(event, FakeContext())
        # CloudFormation (or Lambda's async retry) re-delivers it
        again = helper.handler(event, FakeContext())
        gate = moto_sfn.wait(rig.sfn, _gate_execution(event))
        executions = rig.sfn.list_executions(stateMachineArn=rig.machines[GATE])["executions"]
        # its status-change event arrives too (FAILED for a failed migration): the gate answered already
        ended = helper.handler(
            {
                "source": "aws.states",
                "detail-type": "Step Functions Execution Status Change",
                "detail": {"executionArn": gate.arn, "status": gate.status},
            },
            FakeContext(),
        )
    # StartExecution is idempotent for a running execution of the same name and input (AWS, and moto): the
    # re-delivery finds it; after it ended, ExecutionAlreadyExists says the same
    assert (
        started["started"]
        and again.get("executionArn", started["executionArn"]) == started["executionArn"]
    )
    assert [e["executionArn"] for e in executions] == [gate.arn]
    assert not ended["answered"]
    (response,) = recorder.responses(url)  # exactly one
    assert (
        response["RequestId"] == event["RequestId"]
        and response["PhysicalResourceId"] == helper.PHYSICAL_ID
    )
    if fail:
        assert gate.status == "FAILED" and response["Status"] == "FAILED"
        assert "migration_failed" in response["Reason"], response["Reason"]
        assert db.version() == ["g1"]
    else:
        assert gate.status == "SUCCEEDED" and response["Status"] == "SUCCESS"
        assert response["Data"]["Applied"] == "1" and response["Data"]["Failed"] == "0"
        assert db.version() == ["g2"]
    # the nested execution is the workflow itself, named after the request
    assert "Run" in gate.states_entered()


def test_delete_is_answered_at_once_without_touching_the_schema(
    db: Database,
    tmp_path: Path,
    recorder: ResponseRecorder,
    one_template: dict[str, Any],
    moto_endpoint: str,
) -> None:
    with workflow_rig(
        one_template, _project(tmp_path), moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        url = recorder.new_url()
        helper.handler(
            {**_event(rig, url, "Delete"), "PhysicalResourceId": "alembic-hook-workflow"},
            FakeContext(),
        )
        executions = rig.sfn.list_executions(stateMachineArn=rig.machines[GATE])["executions"]
    (response,) = recorder.responses(url)
    assert response["Status"] == "SUCCESS" and executions == [] and db.version() == []


def test_an_execution_that_ends_without_answering_is_answered_from_its_end(
    db: Database,
    tmp_path: Path,
    recorder: ResponseRecorder,
    one_template: dict[str, Any],
    moto_endpoint: str,
) -> None:
    """The gate is aborted while the workflow runs (as a timeout or an operator would end it): no Respond state
    ran, so its status-change event gets the one FAILED answer."""
    running, release = threading.Event(), threading.Event()

    def held(event: Any, context: Any) -> Any:
        running.set()
        release.wait(timeout=30)
        return handler.handler(event, context)

    with workflow_rig(
        one_template, _project(tmp_path), moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        rig.lambdas.add(HOOK, InProcess(held))
        url = recorder.new_url()
        event = _event(rig, url)
        helper.handler(event, FakeContext())
        assert running.wait(timeout=30)
        rig.sfn.stop_execution(executionArn=_gate_execution(event))
        release.set()
        gate = moto_sfn.wait(rig.sfn, _gate_execution(event))
        answered = helper.handler(
            {"source": "aws.states", "detail": {"executionArn": gate.arn, "status": gate.status}},
            FakeContext(),
        )
    assert gate.status == "ABORTED" and answered["answered"]
    (response,) = recorder.responses(url)
    assert response["Status"] == "FAILED" and "ABORTED" in response["Reason"]

"""`alembic-hook invoke --workflow ARN upgrade`: starts an execution of the synthesized workflow (in moto) and
follows it to the end with progress; exit 0 on success, 1 on failure, 2 on a usage error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambda_fn.cli.main import main
from lambda_fn.cli.workflow import describe_event, execution_name
from tests.support.database import Database
from tests.support.projects import Rev
from tests.support.workflow_rig import WORKFLOW, asset_project, workflow_rig


@pytest.mark.parametrize("fail", [False, True], ids=["migrated", "failed"])
def test_invoke_workflow_follows_the_execution_to_its_end(
    fail: bool,
    *,
    db: Database,
    tmp_path: Path,
    one_template: dict[str, Any],
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    second = (
        "op.execute('CREATE TABLE c1 (id int)')"
        if fail
        else "op.execute('CREATE TABLE c2 (id int)')"
    )
    asset = asset_project(
        tmp_path,
        [Rev("c1", None, "op.execute('CREATE TABLE c1 (id int)')"), Rev("c2", "c1", second)],
    )
    with workflow_rig(
        one_template, asset, moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        code = main(
            ["invoke", "--workflow", rig.machines[WORKFLOW], "upgrade", "head", "--no-snapshot"]
        )
        (execution,) = rig.sfn.list_executions(stateMachineArn=rig.machines[WORKFLOW])["executions"]
    captured = capsys.readouterr()
    assert execution["name"].startswith("cli-")
    assert f"started {execution['executionArn']}" in captured.err
    assert "invocation 1: " in captured.err and "summary: 1 database" in captured.err
    if fail:
        assert code == 1
        assert (
            "1 failed (migration_failed: 1)" in captured.out
            and "  database: migration_failed: " in captured.out
        )
        assert "failed: database: migration_failed" in captured.err
    else:
        assert code == 0
        assert (
            "1 applied" in captured.out
            and "database: applied, at c2 (2 applied in 1 invocation(s))" in captured.out
        )


def test_invoke_workflow_takes_only_upgrade(capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:workflow"
    assert main(["invoke", "--workflow", arn, "downgrade", "base"]) == 2
    assert main(["invoke", "--workflow", arn, "--function", "fn", "upgrade"]) == 2
    assert "upgrade [REV]" in capsys.readouterr().err


def test_progress_lines_and_names() -> None:
    assert describe_event(
        {
            "type": "TaskStateExited",
            "stateExitedEventDetails": {
                "name": "Migrate",
                "output": '{"loop": {"iteration": 2}, "result": {"status": "partial", "applied_count": 7, '
                '"to_revision": "r9", "pending_count": 3, "long_revision": "r10"}}',
            },
        }
    ) == ("invocation 3: partial, 7 applied, at r9, 3 pending; r10 is declared long")
    assert (
        describe_event(
            {
                "type": "TaskStateExited",
                "stateExitedEventDetails": {"name": "Migrate", "output": "not json"},
            }
        )
        is not None
    )
    assert (
        describe_event(
            {"type": "PassStateEntered", "stateEnteredEventDetails": {"name": "Prepare"}}
        )
        is None
    )
    name = execution_name("a user/with:odd chars" * 3)
    assert len(name) <= 80 and name.startswith("cli-a-user-with-odd-")

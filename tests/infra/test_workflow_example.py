"""The example stack with ``-c migration_workflow=true``: the pipeline's Migrate stage is CodePipeline's Step
Functions action on the migration workflow, before the ECS deploy; the ECS service waits for the workflow's deploy
gate; cdk-nag (the synth raises otherwise) and cfn-lint are clean. The default template is the golden one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from infra.app import STACK_NAME, build_app
from tests.infra.conftest import REPO


@pytest.fixture(scope="module")
def workflow_example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("example-workflow")
    build_app(
        App(context={"aws:cdk:bundling-stacks": [], "migration_workflow": "true"}, outdir=str(out))
    ).synth()
    path = out / f"{STACK_NAME}.template.json"
    return path, json.loads(path.read_text())


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_the_pipeline_migrates_through_the_workflow_before_the_ecs_deploy(
    workflow_example: tuple[Path, dict[str, Any]],
) -> None:
    _, template = workflow_example
    (pipeline,) = _of_type(template, "AWS::CodePipeline::Pipeline").values()
    stages = pipeline["Properties"]["Stages"]
    assert [s["Name"] for s in stages] == ["Source", "Migrate", "Deploy"]
    (action,) = stages[1]["Actions"]
    assert action["ActionTypeId"] == {
        "Category": "Invoke",
        "Owner": "AWS",
        "Provider": "StepFunctions",
        "Version": "1",
    }
    machines = [
        k for k in _of_type(template, "AWS::StepFunctions::StateMachine") if "DeployGate" not in k
    ]
    assert action["Configuration"]["StateMachineArn"] == {"Ref": machines[0]}
    assert json.loads(action["Configuration"]["Input"]) == {"revision": "head"}
    assert action["Configuration"]["InputType"] == "Literal"
    # the execution's output: the summary
    assert action["OutputArtifacts"] == [{"Name": "MigrateSummary"}]
    assert stages[2]["Actions"][0]["ActionTypeId"]["Provider"] == "ECS"


def test_the_ecs_service_waits_for_the_deploy_gate(
    workflow_example: tuple[Path, dict[str, Any]],
) -> None:
    _, template = workflow_example
    (gate,) = _of_type(template, "Custom::DbMigrationWorkflow")
    assert not _of_type(template, "Custom::DbMigrations")  # one way to migrate on deploy, not two
    (service,) = _of_type(template, "AWS::ECS::Service").values()
    assert gate in service["DependsOn"]
    resource = template["Resources"][gate]
    assert int(resource["Properties"]["ServiceTimeout"]) <= 3600
    (database,) = _of_type(template, "AWS::RDS::DBInstance")
    assert database in resource["DependsOn"]
    # the snapshot is of the example's instance
    (machine,) = [
        r
        for k, r in _of_type(template, "AWS::StepFunctions::StateMachine").items()
        if "DeployGate" not in k
    ]
    assert {"Ref": database} in machine["Properties"]["DefinitionString"]["Fn::Join"][1]


def test_cfn_lint_is_clean(workflow_example: tuple[Path, dict[str, Any]]) -> None:
    path, _ = workflow_example
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), str(path)], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

"""The workflow's synthesized templates: least privilege for the state machine, the function, the helper and the
long lane (read from the IAM policies as deployed), the definition's bounds, cfn-lint clean (cdk-nag already
passed: the synth raises on any unacknowledged finding)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.moto_sfn import resolve, state_machines
from tests.support.paths import REPO
from tests.support.workflow_stacks import (
    BUDGET_SECONDS,
    FUNCTION_TIMEOUT,
    HOOK_SECRET,
    INLINE_SECRETS,
    TOLERATED,
)

# the only actions a statement may grant on Resource "*": what these services support no resource for
STAR_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
}


class _Names:
    """Every logical id as ``<Id>`` (``<Id.Attr>`` for GetAtt), so resources read as the template means them."""

    def __getitem__(self, key: str) -> str:
        return f"<{key}>"

    def get(self, key: str, default: Any = None) -> str:
        return self[key]


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, Any] | None


def _statements(template: dict[str, Any], role: str) -> list[Statement]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy" or {"Ref": role} not in resource[
            "Properties"
        ].get("Roles", []):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            raw = resolve(statement, _Names(), symbolic=True)
            actions = raw["Action"] if isinstance(raw["Action"], list) else [raw["Action"]]
            resources = raw["Resource"] if isinstance(raw["Resource"], list) else [raw["Resource"]]
            found.append(
                Statement(tuple(actions), tuple(str(r) for r in resources), raw.get("Condition"))
            )
    return found


def _role_of(template: dict[str, Any], kind: str, **properties: str) -> str:
    (resource,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == kind and all(r["Properties"].get(k) == v for k, v in properties.items())
    ]
    role = (
        resource["Properties"].get("Role")
        or resource["Properties"].get("ServiceRole")
        or resource["Properties"]["RoleArn"]
    )
    return str(role["Fn::GetAtt"][0])


def _machine(template: dict[str, Any], gate: bool = False) -> tuple[str, dict[str, Any]]:
    (logical,) = [k for k in state_machines(template) if ("DeployGate" in k) == gate]
    definition = json.loads(
        resolve(
            template["Resources"][logical]["Properties"]["DefinitionString"],
            _Names(),
            symbolic=True,
        )
    )
    return logical, definition


def _granted(statements: list[Statement], prefix: str) -> list[Statement]:
    return [s for s in statements if any(a.startswith(prefix) for a in s.actions)]


def _roles(template: dict[str, Any]) -> dict[str, str]:
    machine, _ = _machine(template)
    roles = {
        "function": _role_of(
            template, "AWS::Lambda::Function", Handler="lambda_fn.handler.handler"
        ),
        "helper": _role_of(template, "AWS::Lambda::Function", Handler="helper.handler"),
        "machine": str(template["Resources"][machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0]),
    }
    if any(r["Type"] == "AWS::CodeBuild::Project" for r in template["Resources"].values()):
        roles["lane"] = _role_of(template, "AWS::CodeBuild::Project")
    return roles


def test_no_role_grants_a_wildcard_action_or_an_unscoped_resource(
    workflow_templates: dict[str, Any],
) -> None:
    for name, template in workflow_templates.items():
        for role in _roles(template).values():
            for statement in _statements(template, role):
                assert not any(
                    a.endswith(":*") or a == "*" or a.startswith("iam:") for a in statement.actions
                ), (name, statement)
                if "*" in statement.resources:
                    assert set(statement.actions) <= STAR_ACTIONS, (name, statement)


def test_one_database_least_privilege(one_template: dict[str, Any]) -> None:
    roles = _roles(one_template)
    function = _statements(one_template, roles["function"])
    assert {r for s in _granted(function, "secretsmanager:") for r in s.resources} == {HOOK_SECRET}

    machine = _statements(one_template, roles["machine"])
    invoked = {r for s in _granted(machine, "lambda:") for r in s.resources}
    hook, helper = (
        f"<{_logical(one_template, h)}.Arn>"
        for h in ("lambda_fn.handler.handler", "helper.handler")
    )
    assert invoked == {hook, f"{hook}:*", helper, f"{helper}:*"}
    rds = {a: set(s.resources) for s in _granted(machine, "rds:") for a in s.actions}
    arn = "arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:"
    assert rds["rds:CreateDBSnapshot"] == {f"{arn}db:hook-db", f"{arn}snapshot:alembic-hook-*"}
    assert rds["rds:CreateDBClusterSnapshot"] == {
        f"{arn}cluster:hook-cluster",
        f"{arn}cluster-snapshot:alembic-hook-*",
    }
    assert rds["rds:DescribeDBInstances"] == {f"{arn}db:hook-db"}
    # polling authorised in the form AWS requires: the source database is a resource type of the call too
    assert rds["rds:DescribeDBSnapshots"] == {f"{arn}db:hook-db", f"{arn}snapshot:alembic-hook-*"}
    assert rds["rds:DescribeDBClusterSnapshots"] == {
        f"{arn}cluster:hook-cluster",
        f"{arn}cluster-snapshot:alembic-hook-*",
    }
    assert not any("Delete" in a for a in rds)  # only the helper deletes, and only the hook's own
    assert not _granted(machine, "secretsmanager:")  # the state machine never reads a secret
    (project,) = [
        k for k, r in one_template["Resources"].items() if r["Type"] == "AWS::CodeBuild::Project"
    ]
    builds = _granted(machine, "codebuild:")
    assert builds and {r for s in builds for r in s.resources} == {f"<{project}.Arn>"}

    helper_statements = _statements(one_template, roles["helper"])
    deletes = {a: set(s.resources) for s in helper_statements for a in s.actions if "Delete" in a}
    assert deletes == {
        "rds:DeleteDBSnapshot": {f"{arn}snapshot:alembic-hook-*"},
        "rds:DeleteDBClusterSnapshot": {f"{arn}cluster-snapshot:alembic-hook-*"},
    }
    assert not _granted(helper_statements, "secretsmanager:") and not _granted(
        helper_statements, "lambda:"
    )

    lane = _statements(one_template, roles["lane"])
    assert {r for s in _granted(lane, "secretsmanager:") for r in s.resources} == {HOOK_SECRET}
    (objects,) = [s for s in lane if "s3:GetObject" in s.actions]
    (asset,) = objects.resources
    assert asset.endswith(".zip") and "*" not in asset  # the function's asset, one object
    logs = _granted(lane, "logs:")
    assert [s.resources for s in logs] == [(f"<{_lane_logs(one_template)}.Arn>",)]


def test_a_fleet_reads_only_its_secrets(workflow_templates: dict[str, Any]) -> None:
    from_s3, inline = (
        workflow_templates["WorkflowFleet4"],
        workflow_templates["WorkflowFleetInline"],
    )
    read = {
        r
        for s in _granted(_statements(from_s3, _roles(from_s3)["function"]), "secretsmanager:")
        for r in s.resources
    }
    assert read == {
        HOOK_SECRET,
        "arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:tenants/*",
    }
    statements = _statements(inline, _roles(inline)["function"])
    read = {r for s in _granted(statements, "secretsmanager:") for r in s.resources}
    (keyed,) = [
        k for k, r in inline["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret"
    ]
    assert read == {HOOK_SECRET, *INLINE_SECRETS, f"<{keyed}>"}
    # the keyed secret's key lets the function decrypt through Secrets Manager only (the grant is in the key's
    # policy, CDK's way for a key of the same stack)
    (key,) = [r for r in inline["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    role = _roles(inline)["function"]
    (grant,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"].get("AWS") == {"Fn::GetAtt": [role, "Arn"]}
    ]
    assert "kms:Decrypt" in grant["Action"] and "kms:ViaService" in json.dumps(grant["Condition"])
    assert not _granted(statements, "kms:")


def test_the_definition_is_bounded(workflow_templates: dict[str, Any]) -> None:
    one = workflow_templates["WorkflowOne"]
    logical, definition = _machine(one)
    states = definition["States"]
    migrate = states["Migrate"]
    assert (
        migrate["Parameters"]["partial"] is True
        and migrate["Parameters"]["budget_seconds"] == BUDGET_SECONDS
    )
    assert migrate["TimeoutSeconds"] == FUNCTION_TIMEOUT + 60
    (retry,) = migrate["Retry"]  # Lambda's own failures only, never the function's
    assert (
        "States.ALL" not in retry["ErrorEquals"] and "MigrationFailed" not in retry["ErrorEquals"]
    )
    assert retry["MaxAttempts"] <= 10
    # max_iterations
    assert any(
        c.get("And") and any(x.get("NumericGreaterThanEquals") == 40 for x in c["And"])
        for c in states["More?"]["Choices"]
    )
    assert states["RunLongLane"]["TimeoutSeconds"] > 0 and states["RunLongLane"][
        "Resource"
    ].endswith(".sync")
    assert states["WaitInstanceSnapshot"]["SecondsPath"] == "$.settings.snapshot_poll_seconds"
    machine = one["Resources"][logical]["Properties"]
    assert machine["StateMachineType"] == "STANDARD" and machine["TracingConfiguration"] == {
        "Enabled": True
    }
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert "TimeoutSeconds" in definition
    _, gate = _machine(one, gate=True)
    assert gate["States"]["Run"]["TimeoutSeconds"] == 600 and gate["TimeoutSeconds"] == 900
    (resource,) = [
        r for r in one["Resources"].values() if r["Type"] == "Custom::DbMigrationWorkflow"
    ]
    assert resource["Properties"]["ServiceTimeout"] == "1200"

    _, fleet = _machine(workflow_templates["WorkflowFleet4"])
    fan_out = fleet["States"]["EachDatabase"]
    assert fan_out["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert fan_out["MaxConcurrency"] == 4 and fan_out["ToleratedFailurePercentage"] == TOLERATED
    assert fan_out["ItemReader"]["Parameters"] == {"Bucket": "fleet-targets", "Key": "targets.json"}
    _, inline = _machine(workflow_templates["WorkflowFleetInline"])
    assert "ResultWriter" in inline["States"]["EachDatabase"]
    assert "result_writer.$" in inline["States"]["Summarize"]["Parameters"]


def test_cfn_lint_is_clean(workflow_templates: dict[str, Any], tmp_path: Path) -> None:
    paths = []
    for name, template in workflow_templates.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        paths.append(str(path))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), *paths], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _logical(template: dict[str, Any], handler: str) -> str:
    (found,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    return str(found)


def _lane_logs(template: dict[str, Any]) -> str:
    (project,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"
    ]
    group = project["Properties"]["LogsConfig"]["CloudWatchLogs"]["GroupName"]
    return str(group["Ref"])


def test_a_failure_cause_that_does_not_parse_is_caught(workflow_templates: dict[str, Any]) -> None:
    """States.StringToJson in a Pass state has no Catch of its own: the parse runs in a Parallel that has one,
    so an unreadable cause still ends in the workflow's failure (with the error's name), never States.Runtime."""
    for name in ("WorkflowOne", "WorkflowFleet4"):
        _, definition = _machine(workflow_templates[name])
        states = _all_states(definition)
        parsers = [
            n
            for n, st in states.items()
            if st.get("Type") == "Pass"
            and "States.StringToJson" in json.dumps(st.get("Parameters", {}))
        ]
        assert parsers, name
        (parse,) = [
            st
            for st in states.values()
            if st.get("Type") == "Parallel"
            and any(set(parsers) & set(branch["States"]) for branch in st["Branches"])
        ]
        assert [c["ErrorEquals"] for c in parse["Catch"]] == [["States.ALL"]]
        assert parse["Catch"][0]["Next"] == "UnreadableFailureFailureCause?"
        (branch,) = parse["Branches"]
        assert set(parsers) <= set(branch["States"])  # every parse sits under the Catch
        assert states["FunctionFailure?"]["Choices"][0]["Next"] == "ParseFailure"


def _all_states(definition: dict[str, Any]) -> dict[str, Any]:
    """Every state, also those inside Parallel branches and Map item processors."""
    found: dict[str, Any] = {}
    for state_name, state in definition["States"].items():
        found[state_name] = state
        for branch in state.get("Branches", []):
            found |= _all_states(branch)
        if "ItemProcessor" in state:
            found |= _all_states(state["ItemProcessor"])
        if "Iterator" in state:
            found |= _all_states(state["Iterator"])
    return found

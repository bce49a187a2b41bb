"""Assertions on the example stack's template, as ``cdk synth`` wrote it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import FileSystem

from alembic_hook_cdk.bundling import CA_BUNDLE_PATH, LAMBDA_TASK_ROOT
from alembic_hook_cdk.migration_hook import RESOURCE_TYPE
from tests.infra.conftest import REPO, hook_function_id

Resources = dict[str, dict[str, Any]]


def of_type(template: dict[str, Any], kind: str) -> Resources:
    return {key: r for key, r in template["Resources"].items() if r["Type"] == kind}


def get_att(resource_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource_id, attribute]}


@pytest.fixture(scope="module")
def function_id(template: dict[str, Any]) -> str:
    return hook_function_id(template)


@pytest.fixture(scope="module")
def function(template: dict[str, Any], function_id: str) -> dict[str, Any]:
    return dict(template["Resources"][function_id]["Properties"])


@pytest.fixture(scope="module")
def function_group(function: dict[str, Any]) -> str:
    (group,) = function["VpcConfig"]["SecurityGroupIds"]
    return str(group["Fn::GetAtt"][0])


@pytest.fixture(scope="module")
def database_group(template: dict[str, Any]) -> str:
    ((_, database),) = of_type(template, "AWS::RDS::DBInstance").items()
    (group,) = database["Properties"]["VPCSecurityGroups"]
    return str(group["Fn::GetAtt"][0])


@pytest.fixture(scope="module")
def migrations_id(template: dict[str, Any]) -> str:
    (found,) = of_type(template, RESOURCE_TYPE)
    return found


def test_function_runs_in_the_private_subnets(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    private = {
        key
        for key, subnet in of_type(template, "AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-type", "Value": "Private"} in subnet["Properties"]["Tags"]
    }
    assert len(private) == 2
    assert {ref["Ref"] for ref in function["VpcConfig"]["SubnetIds"]} == private


def test_function_group_reaches_only_the_database_and_https(
    template: dict[str, Any], function_group: str, database_group: str
) -> None:
    group = template["Resources"][function_group]["Properties"]
    # inline: HTTPS only; no inline ingress at all
    assert group["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": group["SecurityGroupEgress"][0]["Description"],
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert "SecurityGroupIngress" not in group
    # separate rules: exactly one egress (to the database's group, on its port), no ingress
    egress = [
        r["Properties"]
        for r in of_type(template, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == get_att(function_group, "GroupId")
    ]
    assert egress == [
        {
            "Description": egress[0]["Description"],
            "DestinationSecurityGroupId": get_att(database_group, "GroupId"),
            "FromPort": 5432,
            "GroupId": get_att(function_group, "GroupId"),
            "IpProtocol": "tcp",
            "ToPort": 5432,
        }
    ]
    ingress_on_function = [
        r
        for r in of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == get_att(function_group, "GroupId")
    ]
    assert ingress_on_function == []


def test_database_group_admits_the_function_on_its_port(
    template: dict[str, Any], function_group: str, database_group: str
) -> None:
    from_function = [
        r["Properties"]
        for r in of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId") == get_att(function_group, "GroupId")
    ]
    assert from_function == [
        {
            "Description": from_function[0]["Description"],
            "FromPort": 5432,
            "GroupId": get_att(database_group, "GroupId"),
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": get_att(function_group, "GroupId"),
            "ToPort": 5432,
        }
    ]


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_iam_statement_grants_wildcard_actions(template: dict[str, Any]) -> None:
    for key, policy in of_type(template, "AWS::IAM::Policy").items():
        for statement in _statements(policy):
            for action in _as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), (key, action)


def test_hook_role_is_least_privilege(template: dict[str, Any], function: dict[str, Any]) -> None:
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    # no AWSLambdaBasicExecutionRole / VPCAccessExecutionRole
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    policies = [
        p
        for p in of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    assert len(policies) == 1
    granted = {tuple(sorted(_as_list(s["Action"]))): s for s in _statements(policies[0])}
    secret_ref = function["Environment"]["Variables"]["DB_SECRET_ARN"]
    log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert (
        granted[("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue")]["Resource"]
        == secret_ref
    )
    assert granted[("logs:CreateLogStream", "logs:PutLogEvents")]["Resource"] == get_att(
        log_group, "Arn"
    )
    assert (
        granted[("codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult")][
            "Resource"
        ]
        == "*"
    )
    eni = [actions for actions in granted if actions[0].startswith("ec2:")]
    assert len(eni) == 1 and granted[eni[0]]["Resource"] == "*"
    assert len(granted) == 4  # nothing else
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in granted.values())


def test_async_invocations_are_not_retried(template: dict[str, Any], function_id: str) -> None:
    (config,) = [
        r["Properties"]
        for r in of_type(template, "AWS::Lambda::EventInvokeConfig").values()
        if r["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert config["MaximumRetryAttempts"] == 0
    assert config["Qualifier"] == "$LATEST"


def test_function_settings(template: dict[str, Any], function: dict[str, Any]) -> None:
    assert function["Handler"] == "lambda_fn.handler.handler"
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["x86_64"]
    assert function["Timeout"] <= 900
    env = function["Environment"]["Variables"]
    assert env["ALEMBIC_CONFIG"] == "migrations/alembic.ini"
    assert env["ALEMBIC_SCRIPT_LOCATION"] == "migrations"
    assert env["DB_SSLMODE"] == "verify-full"
    assert env["DB_SSLROOTCERT"] == f"{LAMBDA_TASK_ROOT}/{CA_BUNDLE_PATH}"
    assert env["DB_PORT"] == "5432"
    assert {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    } <= set(env)
    assert float(env["DB_STATEMENT_TIMEOUT_SECONDS"]) < function["Timeout"]
    assert not [key for key in env if "PASSWORD" in key]
    # the log group the function writes to keeps its logs for a bounded time
    log_group = template["Resources"][function["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
    assert log_group["RetentionInDays"] > 0


def test_custom_resource_carries_fingerprint_and_service_timeout(
    template: dict[str, Any], function_id: str, function: dict[str, Any], migrations_id: str
) -> None:
    resource = template["Resources"][migrations_id]
    props = resource["Properties"]
    # CloudFormation invokes the function itself: no provider framework in between
    assert props["ServiceToken"] == get_att(function_id, "Arn")
    assert props["MigrationsFingerprint"] == FileSystem.fingerprint(
        str(REPO / "alembic"), exclude=["__pycache__", "*.pyc"]
    )
    # the concrete head, so a rollback's Update names a revision the database already has
    assert props["TargetRevision"] == "0005_recommendations"
    # just above the function's own timeout, far below CloudFormation's one-hour default
    assert int(props["ServiceTimeout"]) == function["Timeout"] + 60
    # the first run waits for the database instance and the rule that lets the function reach it
    (database,) = of_type(template, "AWS::RDS::DBInstance")
    assert database in resource["DependsOn"]
    ingress_ids = [
        key
        for key, r in of_type(template, "AWS::EC2::SecurityGroupIngress").items()
        if r["Properties"].get("SourceSecurityGroupId")
        == function["VpcConfig"]["SecurityGroupIds"][0]
    ]
    assert set(ingress_ids) <= set(resource["DependsOn"])


def test_ecs_service_waits_for_the_migrations(template: dict[str, Any], migrations_id: str) -> None:
    ((_, service),) = of_type(template, "AWS::ECS::Service").items()
    assert migrations_id in service["DependsOn"]


def test_pipeline_migrates_before_it_deploys(template: dict[str, Any], function_id: str) -> None:
    ((_, pipeline),) = of_type(template, "AWS::CodePipeline::Pipeline").items()
    props = pipeline["Properties"]
    assert props["PipelineType"] == "V2"
    stages = props["Stages"]
    assert [s["Name"] for s in stages] == ["Source", "Migrate", "Deploy"]
    (migrate,) = stages[1]["Actions"]
    assert migrate["ActionTypeId"] == {
        "Category": "Invoke",
        "Owner": "AWS",
        "Provider": "Lambda",
        "Version": "1",
    }
    assert migrate["Configuration"]["FunctionName"] == {"Ref": function_id}
    assert json.loads(migrate["Configuration"]["UserParameters"]) == {"revision": "head"}
    assert migrate["Namespace"] == "Migrate"
    (deploy,) = stages[2]["Actions"]
    assert deploy["ActionTypeId"]["Provider"] == "ECS"
    assert deploy["InputArtifacts"] == stages[0]["Actions"][0]["OutputArtifacts"]
    assert deploy["Configuration"]["FileName"] == "imagedefinitions.json"


def test_database_verifies_with_a_ca_the_asset_carries(template: dict[str, Any]) -> None:
    ((_, database),) = of_type(template, "AWS::RDS::DBInstance").items()
    assert database["Properties"]["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
    assert database["Properties"]["StorageEncrypted"] is True

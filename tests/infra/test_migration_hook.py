"""The construct's options, on small stacks synthesized in-process with bundling skipped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as cpactions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import HookFactory, template_of


def resources(template: Template, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def function_group(template: Template) -> str:
    ((_, function),) = resources(template, "AWS::Lambda::Function").items()
    return str(function["Properties"]["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0])


def test_vpc_endpoints_for_a_vpc_without_nat(hook_stack: HookFactory) -> None:
    stack, _ = hook_stack(vpc_nat=False, create_vpc_endpoints=True)
    template = template_of(stack)
    interface = resources(template, "AWS::EC2::VPCEndpoint")
    services = {
        json.dumps(r["Properties"]["ServiceName"]): r["Properties"] for r in interface.values()
    }
    assert len(services) == 3
    kinds = {props.get("VpcEndpointType", "Gateway") for props in services.values()}
    assert kinds == {"Interface", "Gateway"}
    names = " ".join(services)
    for service in ("secretsmanager", "codepipeline", "s3"):
        assert f".{service}" in names, service
    group = function_group(template)
    (vpc_id,) = resources(template, "AWS::EC2::VPC")
    for props in services.values():
        if props.get("VpcEndpointType") != "Interface":
            continue
        assert props["PrivateDnsEnabled"] is True  # the SDK's default hostnames must resolve to it
        (endpoint_group,) = props["SecurityGroupIds"]
        endpoint_group_id = endpoint_group["Fn::GetAtt"][0]
        endpoint_sg = template.to_json()["Resources"][endpoint_group_id]["Properties"]
        # private DNS is VPC-wide: every client in the VPC (the app's tasks, the secret's rotation) now resolves
        # the service to this endpoint, so it admits the VPC's CIDR on 443, and nothing else besides the function
        (vpc_wide,) = endpoint_sg["SecurityGroupIngress"]
        assert (
            vpc_wide["CidrIp"],
            vpc_wide["FromPort"],
            vpc_wide["ToPort"],
            vpc_wide["IpProtocol"],
        ) == ({"Fn::GetAtt": [vpc_id, "CidrBlock"]}, 443, 443, "tcp")
        ingress = [
            r["Properties"]
            for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
            if r["Properties"]["GroupId"] == {"Fn::GetAtt": [endpoint_group_id, "GroupId"]}
        ]
        assert ingress == [
            {
                "Description": ingress[0]["Description"],
                "FromPort": 443,
                "GroupId": {"Fn::GetAtt": [endpoint_group_id, "GroupId"]},
                "IpProtocol": "tcp",
                "SourceSecurityGroupId": {"Fn::GetAtt": [group, "GroupId"]},
                "ToPort": 443,
            }
        ]
    # the gateway endpoint routes the function's subnets (the isolated ones here)
    (gateway,) = [p for p in services.values() if p.get("VpcEndpointType", "Gateway") == "Gateway"]
    assert len(gateway["RouteTableIds"]) == 2
    # the custom resource's first run waits for all three
    ((_, migrations),) = resources(template, "Custom::DbMigrations").items()
    assert set(interface) <= set(migrations["DependsOn"])
    # the function still has exactly its two egress rules: adding endpoints widened nothing
    egress = [
        r
        for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
    ]
    assert len(egress) == 1


def test_no_endpoints_unless_asked(hook_stack: HookFactory) -> None:
    stack, _ = hook_stack()
    template = template_of(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)


def test_default_subnets_are_isolated_without_nat(hook_stack: HookFactory) -> None:
    stack, hook = hook_stack(vpc_nat=False)
    template = template_of(stack)
    ((_, function),) = resources(template, "AWS::Lambda::Function").items()
    isolated = {s.subnet_id for s in hook.props.vpc.isolated_subnets}
    assert len(function["Properties"]["VpcConfig"]["SubnetIds"]) == 2
    assert {stack.resolve(s)["Ref"] for s in isolated} == {
        ref["Ref"] for ref in function["Properties"]["VpcConfig"]["SubnetIds"]
    }


def test_arm64_and_newer_python(hook_stack: HookFactory) -> None:
    stack, hook = hook_stack(
        runtime=lambda_.Runtime.PYTHON_3_13, architecture=lambda_.Architecture.ARM_64
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Runtime": "python3.13", "Architectures": ["arm64"]}
    )
    assert hook.bundle_spec.target.platform_tag == "manylinux2014_aarch64"
    assert hook.bundle_spec.target.version == "3.13"


def test_secret_key_is_decryptable_and_nothing_more(hook_stack: HookFactory) -> None:
    stack, hook = hook_stack(secret_key=True)
    template = template_of(stack)
    role_id = stack.resolve(hook.role.role_name)["Ref"]
    # the key policy lets the hook's role decrypt, only through Secrets Manager
    ((_, key),) = resources(template, "AWS::KMS::Key").items()
    for_role = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"AWS": {"Fn::GetAtt": [role_id, "Arn"]}}
    ]
    assert len(for_role) == 1
    assert _actions(for_role[0]) == ["kms:Decrypt"]
    assert "kms:ViaService" in for_role[0]["Condition"]["StringEquals"]
    # and the role's own policy grants no KMS action at all
    (policy,) = [
        p
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert not [a for s in statements for a in _actions(s) if a.startswith("kms:")]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timeout": Duration.minutes(16)}, "exceeds Lambda's 15 minutes"),
        (
            {"timeout": Duration.minutes(5), "statement_timeout": Duration.minutes(5)},
            "statement_timeout",
        ),
        ({"ca_bundle": None}, "needs ca_bundle"),
        ({"ssl_mode": "prefer"}, "ssl_mode"),
        ({"runtime": lambda_.Runtime.PYTHON_3_11}, "3.12 or newer"),
        ({"runtime": lambda_.Runtime.NODEJS_22_X}, "not a Python runtime"),
        ({"database_port": 0}, "not a TCP port"),
    ],
)
def test_rejects_unsafe_or_unsupported_settings(
    hook_stack: HookFactory, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        hook_stack(**overrides)


def test_tls_can_be_relaxed_explicitly_without_a_bundle(hook_stack: HookFactory) -> None:
    stack, _ = hook_stack(ca_bundle=None, ssl_mode="require")
    variables = resources(template_of(stack), "AWS::Lambda::Function")
    ((_, function),) = variables.items()
    env = function["Properties"]["Environment"]["Variables"]
    assert env["DB_SSLMODE"] == "require"
    assert "DB_SSLROOTCERT" not in env


def test_settings_reach_the_environment(hook_stack: HookFactory) -> None:
    stack, _ = hook_stack(
        timeout=Duration.minutes(5),
        statement_timeout=Duration.minutes(4),
        lock_timeout=Duration.seconds(3),
        lock_wait=Duration.seconds(90),
        database_wait=Duration.seconds(30),
        database_host="db.internal",
        database_name="orders",
        lock_name="orders_migrations",
        service_name="orders-migrations",
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Timeout": 300,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "DB_STATEMENT_TIMEOUT_SECONDS": "240",
                        "DB_LOCK_TIMEOUT_SECONDS": "3",
                        "MIGRATION_LOCK_WAIT_SECONDS": "90",
                        "DB_WAIT_SECONDS": "30",
                        "DB_HOST": "db.internal",
                        "DB_NAME": "orders",
                        "MIGRATION_LOCK_NAME": "orders_migrations",
                        "POWERTOOLS_SERVICE_NAME": "orders-migrations",
                    }
                )
            },
        },
    )
    template.has_resource_properties("Custom::DbMigrations", {"ServiceTimeout": "360"})


def test_pipeline_action(hook_stack: HookFactory) -> None:
    stack, hook = hook_stack()
    action = hook.pipeline_action(command="status", revision="abc123", variables_namespace="Schema")
    source = codepipeline.Artifact("Source")
    codepipeline.Pipeline(
        stack,
        "Pipeline",
        pipeline_type=codepipeline.PipelineType.V2,
        stages=[
            codepipeline.StageProps(
                stage_name="Source",
                actions=[
                    cpactions.S3SourceAction(
                        action_name="Source",
                        bucket=s3.Bucket(stack, "Bucket", versioned=True),
                        bucket_key="release.zip",
                        output=source,
                    )
                ],
            ),
            codepipeline.StageProps(stage_name="Check", actions=[action]),
        ],
    )
    assert stack.resolve(action.variable("applied_count")) == "#{Schema.applied_count}"
    ((_, pipeline),) = resources(template_of(stack), "AWS::CodePipeline::Pipeline").items()
    (check,) = pipeline["Properties"]["Stages"][1]["Actions"]
    assert json.loads(check["Configuration"]["UserParameters"]) == {
        "revision": "abc123",
        "command": "status",
    }
    assert check["Namespace"] == "Schema"
    with pytest.raises(ValueError, match="not 'upgrade' or 'status'"):
        hook.pipeline_action(command="downgrade")


def test_run_on_deploy_only_once(hook_stack: HookFactory) -> None:
    _, hook = hook_stack()
    with pytest.raises(ValueError, match="already called"):
        hook.run_on_deploy()


def test_https_egress_can_be_narrowed(hook_stack: HookFactory) -> None:
    stack, _ = hook_stack(https_egress=ec2.Peer.prefix_list("pl-12345678"))
    template = template_of(stack)
    group = function_group(template)
    egress = [
        r["Properties"]
        for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
    ]
    assert sorted(e.get("DestinationPrefixListId", "database") for e in egress) == [
        "database",
        "pl-12345678",
    ]
    assert "SecurityGroupEgress" not in template.to_json()["Resources"][group]["Properties"]

"""The workflow in a VPC without NAT (issue 18, point 7): the long lane (CodeBuild, which ships its own log)
gets a CloudWatch Logs endpoint, and like the hook's endpoints it admits the VPC's clients, since its
private DNS is VPC-wide."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from alembic_hook_cdk.migration_hook import MigrationHook, MigrationHookProps
from alembic_hook_cdk.workflow import MigrationWorkflow, MigrationWorkflowProps
from tests.support.paths import REPO


def _template() -> dict[str, Any]:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "WorkflowNoNat")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    hook = MigrationHook(
        stack,
        "Hook",
        MigrationHookProps(
            vpc=vpc,
            database_security_group=ec2.SecurityGroup(stack, "DatabaseGroup", vpc=vpc),
            database_port=5432,
            secret=secretsmanager.Secret(stack, "Secret"),
            alembic_ini=REPO / "alembic.ini",
            script_location=REPO / "alembic",
            ssl_mode="disable",
            create_vpc_endpoints=True,
        ),
    )
    MigrationWorkflow(stack, "Workflow", hook=hook, props=MigrationWorkflowProps())
    return Template.from_stack(stack).to_json()


def test_the_long_lane_gets_a_logs_endpoint_that_admits_the_vpc() -> None:
    template = _template()
    resources = template["Resources"]
    (vpc_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::EC2::VPC"]
    endpoints = {
        k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::EC2::VPCEndpoint"
    }
    logs = [(k, p) for k, p in endpoints.items() if ".logs" in str(p["ServiceName"])]
    assert len(logs) == 1, sorted(str(p["ServiceName"]) for p in endpoints.values())
    logical, props = logs[0]
    assert props["PrivateDnsEnabled"] is True and props["VpcEndpointType"] == "Interface"
    group = props["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    (ingress,) = resources[group]["Properties"]["SecurityGroupIngress"]
    assert ingress["CidrIp"] == {"Fn::GetAtt": [vpc_id, "CidrBlock"]} and ingress["FromPort"] == 443
    (project,) = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    # the first build finds its log endpoint in place
    assert logical in project.get("DependsOn", [])
    for key, other in endpoints.items():  # every interface endpoint with private DNS admits the VPC
        if other.get("VpcEndpointType") == "Interface":
            sg = resources[other["SecurityGroupIds"][0]["Fn::GetAtt"][0]]["Properties"]
            assert {"Fn::GetAtt": [vpc_id, "CidrBlock"]} in [
                i.get("CidrIp") for i in sg["SecurityGroupIngress"]
            ], key

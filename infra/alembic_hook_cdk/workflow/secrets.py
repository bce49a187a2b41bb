"""Which secrets the function (and the long lane) may read for a fleet: the inline targets' own, those under
one name prefix, or those carrying one tag; never every secret. The hook's own secret is granted by the hook."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from alembic_hook_cdk.workflow.props import FleetOptions

READ = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]


def grant_fleet_secrets(fleet: FleetOptions, roles: Sequence[iam.IRole]) -> list[str]:
    """Grant each role read of the fleet's secrets; returns the wildcard resources granted (for cdk-nag)."""
    wildcards: list[str] = []
    arns: list[str] = []
    for target in fleet.targets:
        if isinstance(target.secret, str):
            arns.append(target.secret)
        else:
            for role in roles:
                target.secret.grant_read(role)  # its key too, when it has one
    stack = Stack.of(roles[0])
    statements: list[iam.PolicyStatement] = []
    if arns:
        statements.append(iam.PolicyStatement(actions=READ, resources=list(dict.fromkeys(arns))))
    if fleet.secret_prefix:
        pattern = _secret_arn(stack, f"{fleet.secret_prefix}*")
        statements.append(iam.PolicyStatement(actions=READ, resources=[pattern]))
        wildcards.append(pattern)
    if fleet.secret_tag:
        key, value = fleet.secret_tag
        pattern = _secret_arn(stack, "*")
        statements.append(iam.PolicyStatement(
            actions=READ, resources=[pattern],
            conditions={"StringEquals": {f"secretsmanager:ResourceTag/{key}": value}}))
        wildcards.append(pattern)
    if fleet.secret_keys:
        statements.append(iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[k.key_arn for k in fleet.secret_keys],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"}}))
    for role in roles:
        for statement in statements:
            role.add_to_principal_policy(statement)
    return wildcards


def _secret_arn(stack: Stack, name: str) -> str:
    return stack.format_arn(service="secretsmanager", resource="secret", resource_name=name,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME)


def nag_resource(stack: Stack, value: str) -> str:
    """A resource as cdk-nag names it in a finding's id: pseudo parameters as ``<AWS::Region>``, attributes as
    ``<LogicalId.Attr>``."""
    resolved = stack.resolve(value)
    return _render(resolved)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value, separators=(",", ":"))  # as cdk-nag prints any other intrinsic


def acknowledge_resources(scope: IConstruct, resources: Sequence[str], reason: str) -> None:
    """cdk-nag's IAM5 for each of these wildcard resources on ``scope``, with one reason."""
    stack = Stack.of(scope)
    Validations.of(scope).acknowledge(*[
        Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{nag_resource(stack, r)}]", reason=reason)
        for r in dict.fromkeys(resources)])


def acknowledge_secret_wildcards(role: iam.IRole, fleet: FleetOptions, wildcards: Sequence[str]) -> None:
    """cdk-nag's IAM5 for the prefix or tag grant, whose wildcard is the point of it."""
    reasons = []
    if fleet.secret_prefix:
        reasons.append(f"secrets whose name starts with {fleet.secret_prefix!r} (the fleet's, listed in S3 and unknown "
                       "when the stack is built)")
    if fleet.secret_tag:
        key, value = fleet.secret_tag
        reasons.append(f"secrets tagged {key}={value} (the condition limits the wildcard)")
    stack = Stack.of(role)
    for resource in wildcards:
        Validations.of(role).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{nag_resource(stack, resource)}]",
            reason="The migration workflow's fleet: read of " + " and ".join(reasons) + ", never every secret in "
                   "the account; one invocation reads only the secret its item names.",
        ))

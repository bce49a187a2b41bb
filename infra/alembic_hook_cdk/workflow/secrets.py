"""Which secrets the function (and the long lane) may read for a fleet: the inline targets' own, those under
one name prefix, or those carrying one tag; never every secret. The hook's own secret is granted by the hook."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, Validations
from aws_cdk import aws_iam as iam

from alembic_hook_cdk.workflow.arns import arn
from alembic_hook_cdk.workflow.nag import wildcard_acknowledgments
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
        pattern = arn(stack, "secretsmanager", "secret", f"{fleet.secret_prefix}*")
        statements.append(iam.PolicyStatement(actions=READ, resources=[pattern]))
        wildcards.append(pattern)
    if fleet.secret_tag:
        key, value = fleet.secret_tag
        pattern = arn(stack, "secretsmanager", "secret", "*")
        statements.append(
            iam.PolicyStatement(
                actions=READ,
                resources=[pattern],
                conditions={"StringEquals": {f"secretsmanager:ResourceTag/{key}": value}},
            )
        )
        wildcards.append(pattern)
    if fleet.secret_keys:
        statements.append(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[k.key_arn for k in fleet.secret_keys],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"
                    }
                },
            )
        )
    for role in roles:
        for statement in statements:
            role.add_to_principal_policy(statement)
    return wildcards


def acknowledge_secret_wildcards(
    role: iam.IRole, fleet: FleetOptions, wildcards: Sequence[str]
) -> None:
    """cdk-nag's IAM5 for the prefix or tag grant, whose wildcard is the point of it."""
    reasons = []
    if fleet.secret_prefix:
        reasons.append(
            f"secrets whose name starts with {fleet.secret_prefix!r} (the fleet's, listed in S3 and unknown "
            "when the stack is built)"
        )
    if fleet.secret_tag:
        key, value = fleet.secret_tag
        reasons.append(f"secrets tagged {key}={value} (the condition limits the wildcard)")
    reason = (
        "The migration workflow's fleet: read of "
        + " and ".join(reasons)
        + ", never every secret in the "
        "account; one invocation reads only the secret its item names."
    )
    Validations.of(role).acknowledge(*wildcard_acknowledgments(role, wildcards, reason))

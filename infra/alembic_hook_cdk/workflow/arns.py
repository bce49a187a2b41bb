"""The ARNs the workflow grants and acknowledges, spelled one way: ``arn:<partition>:<service>:<region>:<account>:
<resource>:<name>`` (``format_arn`` with a colon before the name, as RDS, Step Functions and Secrets Manager
write theirs), and S3's, which name no region nor account."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct


def arn(scope: IConstruct, service: str, resource: str, name: str) -> str:
    """One resource of this stack's account and region."""
    return Stack.of(scope).format_arn(
        service=service,
        resource=resource,
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def s3_arn(scope: IConstruct, bucket_name: str, key: str | None = None) -> str:
    """A bucket (``key`` None) or the objects ``key`` names (a key or a pattern such as ``prefix/*``)."""
    bucket = f"arn:{Stack.of(scope).partition}:s3:::{bucket_name}"
    return bucket if key is None else f"{bucket}/{key}"


def rds_arns(scope: IConstruct, resource: str, names: Iterable[str]) -> list[str]:
    """RDS resources (``db``, ``cluster``, ``snapshot``, ``cluster-snapshot``, ``subgrp``) by name or pattern."""
    return [arn(scope, "rds", resource, name) for name in names]


def execution_arn_prefix(scope: IConstruct, state_machine_name: str) -> str:
    """``arn:<partition>:states:<region>:<account>:execution:<name>:`` for a state machine's executions."""
    return arn(scope, "states", "execution", f"{state_machine_name}:")


def machine_name(state_machine: sfn.IStateMachine) -> str:
    """The state machine's name as CDK's own grants spell it (from its ARN), so cdk-nag's findings on those
    grants and ours name the same resource."""
    return Fn.select(6, Fn.split(":", state_machine.state_machine_arn))

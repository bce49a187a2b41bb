"""cdk-nag's findings the workflow acknowledges, named as cdk-nag names them, each with the reason it is right."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

INVOKE_REASON = (
    "Step Functions' Lambda integration grants invoke of the function's versions and aliases (ARN suffix "
    ":*): only the functions this state machine invokes, no other."
)
OWN_LOGGING_REASON = (
    "What Step Functions needs for the state machine's own logging and tracing: CloudWatch Logs log "
    "delivery (logs:CreateLogDelivery and related) and X-Ray segments (xray:PutTraceSegments and "
    "related) support no resource-level permissions."
)


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


def wildcard_acknowledgments(
    scope: IConstruct, resources: Sequence[str], reason: str
) -> list[Acknowledgment]:
    """cdk-nag's IAM5 for each of these wildcard resources, with one reason (for a scope acknowledged elsewhere)."""
    stack = Stack.of(scope)
    return [
        Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{nag_resource(stack, r)}]", reason=reason)
        for r in dict.fromkeys(resources)
    ]


def acknowledge_resources(scope: IConstruct, resources: Sequence[str], reason: str) -> None:
    """cdk-nag's IAM5 for each of these wildcard resources on ``scope``, with one reason."""
    Validations.of(scope).acknowledge(*wildcard_acknowledgments(scope, resources, reason))


def acknowledge_state_machine(
    machine: IConstruct, invoked: Sequence[lambda_.IFunction], *, extra: str = ""
) -> None:
    """What CDK grants every state machine of the workflow: invoke of its functions' versions (``:*``) and its
    own logging and tracing (``*``); ``extra``: what else that ``*`` covers for this one."""
    acknowledge_resources(machine, [f"{f.function_arn}:*" for f in invoked], INVOKE_REASON)
    acknowledge_resources(machine, ["*"], OWN_LOGGING_REASON + (f" {extra}" if extra else ""))

"""The helper function (``runtime/helper.py``): outside the VPC, standard library and boto3 only, its role
written out by hand (its own log group; what each of its jobs needs is granted by the part that uses it)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
HELPER_HANDLER = "helper.handler"
# the newest Python runtime: the helper ships only its own file, so it never waits for a bundle's Python
HELPER_RUNTIME = lambda_.Runtime.PYTHON_3_14


def helper_function(scope: Construct, *, log_retention: logs.RetentionDays) -> tuple[lambda_.Function, iam.Role]:
    log_group = logs.LogGroup(scope, "HelperLogs", retention=log_retention)
    role = iam.Role(scope, "HelperRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description="Migration workflow helper: prunes the hook's snapshots, summarises results, "
                                "answers CloudFormation")
    role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                           resources=[log_group.log_group_arn]))
    function = lambda_.Function(
        scope, "Helper",
        description="Migration workflow helper (no database access)",
        runtime=HELPER_RUNTIME,
        handler=HELPER_HANDLER,
        code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
        role=role,
        memory_size=256,
        timeout=Duration.minutes(2),
        log_group=log_group,
        # CloudFormation and EventBridge invoke it asynchronously: a start is idempotent (the execution is named
        # after the request) and an answer is looked up before it is sent, so Lambda's retries are safe
        retry_attempts=2,
    )
    return function, role

"""The function's role, written out by hand instead of the AWS managed execution policies: logs to its own
log group, the ENI calls Lambda makes for VPC functions, read of the one secret, the CodePipeline job-result
calls; and the cdk-nag finding that is inherent to it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


def function_role(
    scope: Construct, *, log_group: logs.ILogGroup, secret: secretsmanager.ISecret
) -> iam.Role:
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Migration function: its logs, its VPC ENIs, one secret, CodePipeline job results",
    )
    # Instead of AWSLambdaBasicExecutionRole (logs:* on every log group): only this function's group.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    # What AWSLambdaVPCAccessExecutionRole grants, spelled out: Lambda creates and deletes the function's
    # ENIs with the function's role. These EC2 actions have no resource-level scoping Lambda can use.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            resources=["*"],
        )
    )
    # GetSecretValue/DescribeSecret on this secret, and kms:Decrypt on its key when it has one.
    secret.grant_read(role)
    # CodePipeline's job-result calls take a job id, not a resource: AWS allows only "*" here.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"],
            resources=["*"],
        )
    )
    return role


def acknowledge_wildcards(role: iam.Role) -> None:
    """cdk-nag's AwsSolutions-IAM5 on the role, with the reason the two wildcards are right here."""
    Validations.of(role).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason=(
                "Two statements need Resource '*': the ENI actions Lambda performs with the function's role "
                "to attach it to the VPC (ec2:Describe* has no resource-level permissions; this is exactly "
                "AWSLambdaVPCAccessExecutionRole), and codepipeline:PutJobSuccessResult/PutJobFailureResult, "
                "which act on a job id and support no resource ARN. Every other statement is scoped to "
                "this function's log group, its one secret and that secret's key."
            ),
        )
    )

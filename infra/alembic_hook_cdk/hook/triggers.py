"""The two ways a deploy runs the function: a CodePipeline invoke action, and a custom resource that
CloudFormation updates only when the migrations (their fingerprint) or the target revision change."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import CustomResource, Duration, FileSystem
from aws_cdk import aws_codepipeline_actions as cpactions
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from alembic_hook_cdk.bundling import BundlingError, read_heads

RESOURCE_TYPE = "Custom::DbMigrations"
# CloudFormation waits this long past the function's own timeout before it gives up on a response: the
# handler always answers, so the slack only covers the response's trip through S3.
SERVICE_TIMEOUT_SLACK = Duration.seconds(60)


def migrations_fingerprint(script_location: Path) -> str:
    """What CloudFormation compares to decide whether the migrations must run again."""
    return FileSystem.fingerprint(str(script_location), exclude=["__pycache__", "*.pyc"])


def pipeline_action(
    function: lambda_.IFunction,
    *,
    action_name: str,
    revision: str,
    command: str | None,
    variables_namespace: str,
    run_order: int | None,
) -> cpactions.LambdaInvokeAction:
    if command not in (None, "upgrade", "status"):
        raise ValueError(f"pipeline command {command!r} is not 'upgrade' or 'status'")
    parameters = {"revision": revision} | ({"command": command} if command else {})
    return cpactions.LambdaInvokeAction(
        action_name=action_name,
        lambda_=function,
        user_parameters=parameters,
        variables_namespace=variables_namespace,
        run_order=run_order,
    )


def single_head(alembic_ini: Path, script_location: Path, extra_source_dirs: Sequence[Path]) -> str:
    """The one head the migrations have (``read_heads``), or a ValueError saying how to get there."""
    try:
        heads = read_heads(alembic_ini, script_location, extra_source_dirs)
    except BundlingError as exc:
        raise ValueError(f"MigrationHook: {exc}") from None
    if len(heads) != 1:
        raise ValueError(
            f"MigrationHook: the migrations have {len(heads)} heads ({', '.join(heads) or 'none'}); "
            "join them with `alembic merge heads -m merge` before deploying."
        )
    return heads[0]


def migrations_resource(
    scope: Construct,
    *,
    function: lambda_.IFunction,
    fingerprint: str,
    target_revision: str,
    timeout: Duration,
) -> CustomResource:
    """The custom resource (id ``Migrations``), answered by the function itself (it PUTs to ResponseURL): no
    provider framework. CloudFormation waits just past the function's own timeout."""
    return CustomResource(
        scope,
        "Migrations",
        service_token=function.function_arn,
        resource_type=RESOURCE_TYPE,
        properties={"MigrationsFingerprint": fingerprint, "TargetRevision": target_revision},
        service_timeout=Duration.seconds(timeout.to_seconds() + SERVICE_TIMEOUT_SLACK.to_seconds()),
    )

"""The function itself: its asset (``HookBundleSpec``, built by ``LocalHookBundler`` and hashed by the spec's
fingerprint), the Lambda function with its invoke settings, and the cdk-nag finding about its runtime."""

from __future__ import annotations

from typing import cast

from aws_cdk import (
    Acknowledgment,
    AssetHashType,
    BundlingOptions,
    Duration,
    ILocalBundling,
    Validations,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from alembic_hook_cdk.bundling import HookBundleSpec, LambdaPython, LocalHookBundler
from alembic_hook_cdk.hook.environment import function_environment
from alembic_hook_cdk.hook.props import MigrationHookProps

HANDLER = "lambda_fn.handler.handler"


def bundle_spec(props: MigrationHookProps, target: LambdaPython) -> HookBundleSpec:
    return HookBundleSpec(
        alembic_ini=props.alembic_ini,
        script_location=props.script_location,
        target=target,
        extra_source_dirs=tuple(props.extra_source_dirs),
        requirements_file=props.requirements_file,
        ca_bundle=props.ca_bundle,
        boto3_from_runtime=props.boto3_from_runtime,
        require_bytecode=props.require_bytecode,
    )


def function_code(props: MigrationHookProps, spec: HookBundleSpec) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(spec.handler_source),
        # The asset hash is the hash of every input of the bundle (HookBundleSpec.fingerprint), so CDK
        # rebuilds exactly when one changes; the path above is only the directory CDK requires.
        asset_hash=spec.fingerprint(),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            image=props.runtime.bundling_image,  # required by the API; LocalHookBundler never falls back
            # cast: the generated stub declares try_bundle with keyword-only options, but jsii calls it
            # positionally (aws/aws-cdk#26581), which is what LocalHookBundler implements.
            local=cast(ILocalBundling, LocalHookBundler(spec)),
        ),
    )


def migration_function(
    scope: Construct,
    props: MigrationHookProps,
    *,
    code: lambda_.Code,
    role: iam.IRole,
    subnets: ec2.SubnetSelection,
    security_group: ec2.ISecurityGroup,
    log_group: logs.ILogGroup,
) -> lambda_.Function:
    return lambda_.Function(
        scope,
        "Function",
        description="Runs the Alembic migrations (CodePipeline, CloudFormation, operator)",
        function_name=props.function_name,
        handler=HANDLER,
        runtime=props.runtime,
        architecture=props.architecture,
        code=code,
        role=role,
        vpc=props.vpc,
        vpc_subnets=subnets,
        security_groups=[security_group],
        memory_size=props.memory_size,
        timeout=props.timeout,
        environment=function_environment(props),
        # CodePipeline and CloudFormation invoke asynchronously: a Lambda retry would run the same
        # migration job again. The handler reports every failure itself, so no retry is needed.
        retry_attempts=0,
        # An event that waited longer than this belongs to a deploy that has given up waiting.
        max_event_age=Duration.minutes(15),
        log_group=log_group,
        reserved_concurrent_executions=props.reserved_concurrent_executions,
        params_and_secrets=secrets_extension(props),
    )


def secrets_extension(props: MigrationHookProps) -> lambda_.ParamsAndSecretsLayerVersion | None:
    """The AWS Parameters and Secrets Lambda Extension's layer (its ARN per region and architecture, which
    CDK maps), when the props ask for it; it serves the secret on localhost:2773 and caches it for 5 minutes,
    and the runtime reads it there (DB_SECRET_SOURCE=extension, written by ``function_environment``)."""
    if not props.secrets_extension:
        return None
    return lambda_.ParamsAndSecretsLayerVersion.from_version(
        lambda_.ParamsAndSecretsVersions.V1_0_103,
        # bounded (its default is no timeout), and within the 5 s the runtime waits for the extension's answer
        # (lambda_fn/aws/secrets.py), so a Secrets Manager out of reach shows as the extension's own error
        secrets_manager_timeout=Duration.seconds(4),
        log_level=lambda_.ParamsAndSecretsLogLevel.WARN,
    )


def acknowledge_runtime(function: lambda_.Function, runtime: lambda_.Runtime) -> None:
    """cdk-nag's AwsSolutions-L1 (not the latest runtime), when the chosen Python is not the latest."""
    latest = lambda_.Runtime.PYTHON_3_14.name
    if runtime.name != latest:
        Validations.of(function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=(
                    f"{runtime.name} is chosen through the construct's runtime prop, not by default "
                    f"drift: the asset's wheels and bytecode are built for exactly that Python, which the "
                    f"build machine must have. {latest} is supported by passing runtime=PYTHON_3_14."
                ),
            )
        )

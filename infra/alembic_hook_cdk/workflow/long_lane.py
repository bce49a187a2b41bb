"""The long lane: a CodeBuild project in the function's VPC that runs ``alembic-hook upgrade <revision>`` for a
revision declared long, with the function's own asset, secret, lock and settings.

No image to build and nothing installed at run time: the project's source is the function's asset (the zip CDK
uploads for the Lambda function: lambda_fn/, the migrations, the pinned dependencies, the RDS CA bundle,
bytecode for the runtime's Python) and its image is CodeBuild's standard Amazon Linux 2023 image, whose pyenv
Pythons each carry boto3 as the Lambda runtime does (aws/aws-codebuild-docker-images al/x86_64/standard/5.0).
The buildspec selects the same Python minor version the asset was built for and runs the CLI's module from the
asset root, so the identical engine runs without Lambda's 15-minute limit. Its environment is the function's
(``function_environment``, the one table of variable names), with the statement timeout raised to the lane's and
the CA bundle's path inside the source directory; the target database comes from the workflow per build.

The role is written out by hand (CodeBuild's defaults would add report groups and broader S3 reads): its log
group, the one asset object, the ENI calls CodeBuild makes for a VPC project, and the secrets the function may
read (granted by the workflow to both roles at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from alembic_hook_cdk.bundling import CA_BUNDLE_PATH, LAMBDA_TASK_ROOT
from alembic_hook_cdk.hook.environment import function_environment, seconds
from alembic_hook_cdk.hook.network import default_subnets, logs_endpoint
from alembic_hook_cdk.hook.props import MigrationHookProps
from alembic_hook_cdk.workflow.arns import s3_arn
from alembic_hook_cdk.workflow.props import LongLaneOptions
from lambda_fn.settings import SOURCE_SDK, Settings

# The CLI, as the asset holds it (no console script there): `alembic-hook upgrade <revision>`.
CLI = "python -m lambda_fn.cli.main"


@dataclass(frozen=True)
class LongLane:
    project: codebuild.Project
    role: iam.Role
    log_group: logs.LogGroup


def build_spec(python: str) -> dict[str, Any]:
    """The buildspec: the target from the workflow's overrides, then the CLI, whose exit code is the build's."""
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            "install": {"runtime-versions": {"python": python}},
            "build": {
                "commands": [
                    'export DB_SECRET_ARN="$TARGET_SECRET_ARN"',
                    'if [ -n "$TARGET_DB_HOST" ]; then export DB_HOST="$TARGET_DB_HOST"; fi',
                    'if [ -n "$TARGET_DB_NAME" ]; then export DB_NAME="$TARGET_DB_NAME"; fi',
                    'echo "long lane: $TARGET_REVISION for execution $WORKFLOW_EXECUTION (snapshot: '
                    '${WORKFLOW_SNAPSHOT:-none})"',
                    f'{CLI} upgrade "$TARGET_REVISION" --progress --json',
                ],
            },
        },
    }


def lane_environment(hook_props: MigrationHookProps, options: LongLaneOptions) -> dict[str, str]:
    """The function's settings, for a build: the statement timeout of a long revision, the CA bundle where
    the source is unpacked (the working directory), the SDK's secret reader (no Lambda extension here)."""
    env = function_environment(hook_props)
    overrides = Settings.to_env(
        statement_timeout=seconds(options.statement_timeout), secret_source=SOURCE_SDK
    )
    if hook_props.ca_bundle is not None:
        overrides |= Settings.to_env(sslrootcert=CA_BUNDLE_PATH)
    env = env | overrides
    assert f"{LAMBDA_TASK_ROOT}/" not in "".join(env.values()), (
        "a path of the Lambda task root leaked into the lane"
    )
    return env


def long_lane(
    scope: Construct,
    *,
    hook_props: MigrationHookProps,
    code: lambda_.Code,
    python: str,
    security_group: ec2.ISecurityGroup,
    options: LongLaneOptions,
    log_retention: logs.RetentionDays,
) -> LongLane:
    """The CodeBuild project that runs the function's own asset with the CLI, in the function's VPC."""
    asset = code.bind(scope)
    if asset.s3_location is None:
        raise ValueError("the long lane needs the function's code as an S3 asset (Code.from_asset)")
    bucket_name, key = asset.s3_location.bucket_name, asset.s3_location.object_key
    log_group = logs.LogGroup(scope, "LongLaneLogs", retention=log_retention)
    role = _role(scope, log_group, bucket_name, key)
    subnets = hook_props.vpc_subnets or default_subnets(hook_props.vpc)
    selected = hook_props.vpc.select_subnets(
        subnet_type=subnets.subnet_type,
        subnet_group_name=subnets.subnet_group_name,
        subnets=subnets.subnets,
        availability_zones=subnets.availability_zones,
        one_per_az=subnets.one_per_az,
        subnet_filters=subnets.subnet_filters,
    )
    _vpc_statements(role, Stack.of(scope), selected.subnet_ids)
    project = _project(
        scope,
        hook_props,
        options,
        python=python,
        role=role,
        log_group=log_group,
        source=codebuild.Source.s3(
            bucket=s3.Bucket.from_bucket_name(scope, "AssetBucket", bucket_name), path=key
        ),
    )
    # The VPC placement, set on the resource: given to the L2, CDK would also build a policy of its own for the
    # ENI calls (broader than the statements above, and unattached to an immutable role).
    cfn = project.node.default_child
    assert isinstance(cfn, codebuild.CfnProject)
    cfn.vpc_config = codebuild.CfnProject.VpcConfigProperty(
        vpc_id=hook_props.vpc.vpc_id,
        subnets=selected.subnet_ids,
        security_group_ids=[security_group.security_group_id],
    )
    # its policy too: the first build needs the ENI and S3 permissions
    project.node.add_dependency(role)
    if hook_props.create_vpc_endpoints:
        # a VPC without NAT: the build ships its own log to CloudWatch Logs (the function's logs need no endpoint)
        project.node.add_dependency(
            logs_endpoint(scope, "LongLaneLogsEndpoint", vpc=hook_props.vpc, subnets=subnets)
        )
    if options.encryption_key is None:
        Validations.of(project).acknowledge(
            Acknowledgment(
                id="AwsSolutions-CB4",
                reason="The long lane has no artifacts and no cache: it reads the function's asset (in the CDK assets "
                "bucket, encrypted by the bootstrap) and writes only its log (CloudWatch Logs). "
                "LongLaneOptions.encryption_key sets a customer key for the build's own output.",
            )
        )
    return LongLane(project=project, role=role, log_group=log_group)


def _role(scope: Construct, log_group: logs.LogGroup, bucket_name: str, key: str) -> iam.Role:
    """Its log group and the one asset object (the VPC statements come with the subnets)."""
    role = iam.Role(
        scope,
        "LongLaneRole",
        assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
        description="Migration long lane: its logs, the function's asset, its VPC ENIs, the secrets",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[s3_arn(scope, bucket_name, key)],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:GetBucketAcl", "s3:GetBucketLocation"],
            resources=[s3_arn(scope, bucket_name)],
        )
    )
    return role


def _project(
    scope: Construct,
    hook_props: MigrationHookProps,
    options: LongLaneOptions,
    *,
    python: str,
    role: iam.Role,
    log_group: logs.LogGroup,
    source: codebuild.ISource,
) -> codebuild.Project:
    x86 = hook_props.architecture.name == lambda_.Architecture.X86_64.name
    return codebuild.Project(
        scope,
        "LongLane",
        description="Runs a migration revision declared long (alembic_hook_long = True) with the hook's CLI",
        source=source,
        build_spec=codebuild.BuildSpec.from_object(build_spec(python)),
        environment=codebuild.BuildEnvironment(
            build_image=(
                codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5
                if x86
                else codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
            ),
            compute_type=options.compute_type,
            environment_variables={
                k: codebuild.BuildEnvironmentVariable(value=v)
                for k, v in lane_environment(hook_props, options).items()
            },
        ),
        timeout=options.timeout,
        queued_timeout=Duration.hours(1),
        role=role.without_policy_updates(),
        logging=codebuild.LoggingOptions(
            cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)
        ),
        encryption_key=options.encryption_key,
    )


def _vpc_statements(role: iam.Role, stack: Stack, subnet_ids: list[str]) -> None:
    """What CodeBuild does with the project's role to place a build in the VPC."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
            ],
            resources=["*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["ec2:CreateNetworkInterfacePermission"],
            resources=[
                stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
            ],
            conditions={
                "StringEquals": {
                    "ec2:Subnet": [
                        stack.format_arn(service="ec2", resource="subnet", resource_name=s)
                        for s in subnet_ids
                    ],
                    "ec2:AuthorizedService": "codebuild.amazonaws.com",
                },
            },
        )
    )


def acknowledge_lane_wildcards(role: iam.Role) -> None:
    Validations.of(role).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="The ENI calls CodeBuild makes with the project's role to run a build in the VPC: ec2:Describe* and "
            "Create/DeleteNetworkInterface support no resource-level permissions. Every other statement is "
            "scoped to the lane's log group, the one asset object and the secrets the function may read.",
        ),
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
            reason="ec2:CreateNetworkInterfacePermission on the ENIs CodeBuild creates (their ids are not known in "
            "advance), conditioned on the function's subnets and on codebuild.amazonaws.com as the service.",
        ),
    )

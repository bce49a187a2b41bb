"""``MigrationHook``: the construct a team drops into its CDK app to migrate its database on deploy.

It mirrors the runtime side: one Lambda function (``lambda_fn.handler.handler``) that answers CodePipeline
jobs, raw CloudFormation custom-resource events and direct invocations. Around it (infra/hook/, one module
per part):

* networking (``network``): a security group that can reach only the database (its port) and HTTPS (AWS
  APIs), the matching ingress on the database's group, and optionally the VPC endpoints a VPC without NAT
  needs;
* IAM (``iam``) written out by hand instead of the AWS managed execution policies: logs to its own log
  group, the ENI calls Lambda makes for VPC functions, read of the one secret, the CodePipeline job-result
  calls;
* the function (``function``, ``environment``): the Docker-free asset and the settings the runtime reads;
* two ways to run it (``triggers``): ``pipeline_action()`` for a CodePipeline stage before the ECS deploy,
  and ``run_on_deploy()``, a custom resource that CloudFormation updates only when the migrations change
  and that the ECS service can depend on.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource
from aws_cdk import aws_codepipeline_actions as cpactions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from alembic_hook_cdk.bundling import LambdaPython
from alembic_hook_cdk.hook import iam, network, triggers
from alembic_hook_cdk.hook.function import (
    HANDLER,
    acknowledge_runtime,
    bundle_spec,
    function_code,
    migration_function,
)
from alembic_hook_cdk.hook.props import (
    LAMBDA_MAX_TIMEOUT,
    MigrationHookProps,
    resolve_paths,
    validate,
)
from alembic_hook_cdk.hook.triggers import RESOURCE_TYPE, SERVICE_TIMEOUT_SLACK

__all__ = [
    "HANDLER",
    "LAMBDA_MAX_TIMEOUT",
    "RESOURCE_TYPE",
    "SERVICE_TIMEOUT_SLACK",
    "MigrationHook",
    "MigrationHookProps",
]


class MigrationHook(Construct):
    """The migration function plus its network, permissions and the two ways to run it on deploy."""

    def __init__(self, scope: Construct, construct_id: str, props: MigrationHookProps) -> None:
        super().__init__(scope, construct_id)
        props = resolve_paths(props)
        self.props = props
        target = LambdaPython.from_cdk(props.runtime, props.architecture)
        validate(props)

        self.bundle_spec = bundle_spec(props, target)
        self.migrations_fingerprint = triggers.migrations_fingerprint(props.script_location)
        subnets = props.vpc_subnets or network.default_subnets(props.vpc)

        # The parts, in the order their constructs have always been created (ids and paths are unchanged).
        self.log_group = logs.LogGroup(self, "LogGroup", retention=props.log_retention)
        self.network = network.function_network(
            self,
            vpc=props.vpc,
            database_security_group=props.database_security_group,
            database_port=props.database_port,
            https_egress=props.https_egress,
        )
        self.security_group = self.network.security_group
        self.database_ingress = self.network.database_ingress
        self.connections = ec2.Connections(security_groups=[self.security_group])
        self.role = iam.function_role(self, log_group=self.log_group, secret=props.secret)
        self.endpoints: list[ec2.IVpcEndpoint] = []
        if props.create_vpc_endpoints:
            self.endpoints = network.vpc_endpoints(
                self, vpc=props.vpc, subnets=subnets, function_group=self.security_group
            )
        # kept: the workflow's long lane (workflow/long_lane.py) runs the same asset in CodeBuild
        self.code: lambda_.Code = function_code(props, self.bundle_spec)
        self.function = migration_function(
            self,
            props,
            code=self.code,
            role=self.role,
            subnets=subnets,
            security_group=self.security_group,
            log_group=self.log_group,
        )
        self._migrations_run: CustomResource | None = None
        # cdk-nag findings that are inherent to the hook, each with the reason it is right here.
        iam.acknowledge_wildcards(self.role)
        acknowledge_runtime(self.function, props.runtime)

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
        return triggers.pipeline_action(
            self.function,
            action_name=action_name,
            revision=revision,
            command=command,
            variables_namespace=variables_namespace,
            run_order=run_order,
        )

    def run_on_deploy(
        self, *, target_revision: str = "head", after: Sequence[IConstruct] = ()
    ) -> CustomResource:
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
            target_revision = triggers.single_head(
                self.props.alembic_ini, self.props.script_location, self.props.extra_source_dirs,
            )  # fmt: skip
        resource = triggers.migrations_resource(
            self,
            function=self.function,
            fingerprint=self.migrations_fingerprint,
            target_revision=target_revision,
            timeout=self.props.timeout,
        )
        # Everything the first run needs must exist before CloudFormation invokes the function: its network
        # path (egress rules are children of the group, the database ingress is ours) and its endpoints.
        # The function construct brings its EventInvokeConfig: no run may start while Lambda's default of two
        # async retries still applies.
        for dependency in (
            *after,
            self.function,
            self.security_group,
            self.database_ingress,
            *self.endpoints,
        ):
            resource.node.add_dependency(dependency)
        self._migrations_run = resource
        return resource

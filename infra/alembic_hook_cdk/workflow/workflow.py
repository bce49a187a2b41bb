"""``MigrationWorkflow``: a Step Functions (Standard) state machine around a ``MigrationHook``'s function, for
what one invocation cannot do: runs longer than 15 minutes (a budgeted loop), revisions that alone outlast an
invocation (the long lane, CodeBuild), a snapshot taken and awaited before the first DDL, and many databases
(a Distributed Map with bounded concurrency and a tolerated failure percentage).

Composed from the hook, opt-in: the hook's function, role, network and settings are reused, never copied. The
workflow adds a helper function (outside the VPC, no database access), the long lane's CodeBuild project, the
state machine with its log group, and the callers: ``pipeline_action()`` (CodePipeline's Step Functions action,
before the ECS deploy) and ``run_on_deploy()`` (a CloudFormation deploy gate, ``DeployWait``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, Duration, Fn, Validations
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as cpactions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from alembic_hook_cdk.bundling import LambdaPython
from alembic_hook_cdk.migration_hook import MigrationHook
from alembic_hook_cdk.workflow.arns import arn, execution_arn_prefix, machine_name, rds_arns, s3_arn
from alembic_hook_cdk.workflow.definition import Definition, Parts
from alembic_hook_cdk.workflow.deploy_wait import DEFAULT_BUDGET, DeployWait
from alembic_hook_cdk.workflow.fleet_map import target_item
from alembic_hook_cdk.workflow.helper import helper_function
from alembic_hook_cdk.workflow.long_lane import LongLane, acknowledge_lane_wildcards, long_lane
from alembic_hook_cdk.workflow.nag import (
    acknowledge_resources,
    acknowledge_state_machine,
    wildcard_acknowledgments,
)
from alembic_hook_cdk.workflow.props import (
    FleetOptions,
    MigrationWorkflowProps,
    SnapshotOptions,
    Target,
    budget_seconds,
    validate,
)
from alembic_hook_cdk.workflow.rehearsal import REASON as REHEARSAL_REASON
from alembic_hook_cdk.workflow.secrets import acknowledge_secret_wildcards, grant_fleet_secrets
from alembic_hook_cdk.workflow.snapshot import allowed_sources


class MigrationWorkflow(Construct):
    """The state machine (``state_machine``), its helper (``helper``) and long lane (``long_lane``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        hook: MigrationHook,
        props: MigrationWorkflowProps | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        props = props or MigrationWorkflowProps()
        hook_props = hook.props
        validate(props, function_timeout=hook_props.timeout)
        self.hook = hook
        self.props = props
        self.budget_seconds = budget_seconds(props, hook_props.timeout)

        self.helper, self.helper_role = helper_function(self, log_retention=props.log_retention)
        self.long_lane = self._long_lane() if props.long_lane.enabled else None
        if props.fleet is not None:
            self._grant_fleet_secrets(props.fleet)
        if props.snapshot is not None:
            self._grant_pruning(props.snapshot)
        self.state_machine = self._state_machine()
        if props.fleet is not None and props.fleet.results_bucket is not None:
            props.fleet.results_bucket.grant_read(
                self.helper_role, f"{props.fleet.results_prefix}/*"
            )
        self._acknowledge()
        self._gate: DeployWait | None = None

    def _state_machine(self) -> sfn.StateMachine:
        hook, props = self.hook, self.props
        definition = Definition(
            self,
            props,
            Parts(
                function=hook.function,
                function_timeout=hook.props.timeout,
                helper=self.helper,
                long_lane=self.long_lane.project if self.long_lane else None,
                long_lane_timeout=props.long_lane.timeout,
            ),
            budget=self.budget_seconds,
            target=None if props.fleet is not None else self._own_target(),
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=props.log_retention)
        return sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=props.state_machine_name,
            comment="Migrates the database(s) with the migration hook's function: snapshot, budgeted loop, long "
            "lane, summary",
            definition_body=sfn.DefinitionBody.from_chainable(definition.start),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=props.timeout,
            tracing_enabled=True,
            # execution data stays out of the logs: results name databases, and the deploy gate's input holds
            # CloudFormation's presigned response URL
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )

    # -- the callers ---------------------------------------------------------------------------------------------

    def pipeline_action(
        self,
        *,
        action_name: str = "Migrate",
        revision: str = "head",
        snapshot: bool | None = None,
        run_order: int | None = None,
        variables_namespace: str | None = None,
        output: codepipeline.Artifact | None = None,
    ) -> cpactions.StepFunctionInvokeAction:
        """CodePipeline's Step Functions action for a stage before the ECS deploy: a Standard execution, so the
        action passes or fails with it; its output artifact (``<action>Summary``) holds the summary, and a
        failed execution's cause (the summary) shows in the console."""
        execution_input: dict[str, Any] = {"revision": revision}
        if snapshot is not None:
            execution_input["snapshot"] = snapshot
        return cpactions.StepFunctionInvokeAction(
            action_name=action_name,
            state_machine=self.state_machine,
            state_machine_input=cpactions.StateMachineInput.literal(execution_input),
            execution_name_prefix="pipeline",
            output=output or codepipeline.Artifact(f"{action_name}Summary"),
            run_order=run_order,
            variables_namespace=variables_namespace,
        )

    def pipeline_acknowledgments(
        self, execution_name_prefix: str = "pipeline"
    ) -> list[Acknowledgment]:
        """For the pipeline (``Validations.of(pipeline).acknowledge(*...)``): cdk-nag's finding on the action
        role CodePipeline's Step Functions action creates, which may describe the executions it starts."""
        # spelled from the state machine's ARN, as CDK's grant on that action role spells it
        machine_arn = self.state_machine.state_machine_arn

        def part(index: int) -> str:
            return Fn.select(index, Fn.split(":", machine_arn))

        executions = (
            f"arn:{part(1)}:states:{part(3)}:{part(4)}:execution:{part(6)}:{execution_name_prefix}*"
        )
        return wildcard_acknowledgments(
            self,
            [executions],
            "CodePipeline's Step Functions action describes the "
            f"executions it starts, named {execution_name_prefix}<generated>, of the "
            "migration workflow only.",
        )

    def run_on_deploy(
        self,
        *,
        target_revision: str = "head",
        after: Sequence[IConstruct] = (),
        budget: Duration = DEFAULT_BUDGET,
        snapshot: bool = True,
    ) -> DeployWait:
        """A custom resource that runs the workflow during ``cdk deploy`` and answers CloudFormation exactly once,
        within its ServiceTimeout (``DeployWait``). Make the ECS service's CfnService depend on ``.resource``."""
        if self._gate is not None:
            raise ValueError("run_on_deploy() was already called for this workflow")
        from alembic_hook_cdk.hook.triggers import single_head

        hook_props = self.hook.props
        # a concrete id: see MigrationHook.run_on_deploy (rollbacks)
        if target_revision in (
            "head",
            "heads",
        ):
            target_revision = single_head(
                hook_props.alembic_ini, hook_props.script_location, hook_props.extra_source_dirs
            )
        self._gate = DeployWait(
            self,
            "DeployGate",
            workflow_state_machine=self.state_machine,
            helper=self.helper,
            helper_role=self.helper_role,
            target_revision=target_revision,
            budget=budget,
            snapshot=snapshot,
            fingerprint=self.hook.migrations_fingerprint,
            log_retention=self.props.log_retention,
        )
        hook = self.hook
        for dependency in (
            *after,
            hook.function,
            hook.security_group,
            hook.database_ingress,
            *hook.endpoints,
        ):
            self._gate.resource.node.add_dependency(dependency)
        return self._gate

    # -- parts ---------------------------------------------------------------------------------------------------

    def _long_lane(self) -> LongLane:
        hook, hook_props, props = self.hook, self.hook.props, self.props
        target = LambdaPython.from_cdk(hook_props.runtime, hook_props.architecture)
        lane = long_lane(
            self,
            hook_props=hook_props,
            code=hook.code,
            python=target.version,
            security_group=hook.security_group,
            options=props.long_lane,
            log_retention=props.log_retention,
        )
        hook_props.secret.grant_read(lane.role)
        acknowledge_lane_wildcards(lane.role)
        return lane

    def _grant_fleet_secrets(self, fleet: FleetOptions) -> None:
        """The function (and the long lane) may read the fleet's secrets, never every secret."""
        readers: list[iam.IRole] = [
            self.hook.role,
            *([self.long_lane.role] if self.long_lane else []),
        ]
        wildcards = grant_fleet_secrets(fleet, readers)
        for role in readers:
            acknowledge_secret_wildcards(role, fleet, wildcards)

    def _own_target(self) -> dict[str, Any]:
        """The hook's own database as the one item (its secret; host/name from the function's settings)."""
        hook_props = self.hook.props
        snapshot = self.props.snapshot or SnapshotOptions()
        return target_item(
            Target(
                secret=hook_props.secret,
                id=hook_props.database_name or "database",
                instance=snapshot.instance,
                cluster=snapshot.cluster,
            )
        )

    def _grant_pruning(self, options: SnapshotOptions) -> None:
        """The helper lists a source's manual snapshots and deletes only the hook's (``<prefix>-*``)."""
        fleet = self.props.fleet
        role = self.helper_role
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["rds:DescribeDBSnapshots"],
                resources=[
                    *rds_arns(self, "db", allowed_sources(options, fleet, "instance")),
                    *rds_arns(self, "snapshot", ["*"]),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["rds:DescribeDBClusterSnapshots"],
                resources=[
                    *rds_arns(self, "cluster", allowed_sources(options, fleet, "cluster")),
                    *rds_arns(self, "cluster-snapshot", ["*"]),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["rds:DeleteDBSnapshot"],
                resources=rds_arns(self, "snapshot", [f"{options.prefix}-*"]),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["rds:DeleteDBClusterSnapshot"],
                resources=rds_arns(self, "cluster-snapshot", [f"{options.prefix}-*"]),
            )
        )

    def _acknowledge(self) -> None:
        """cdk-nag's findings that are inherent to the workflow, each with the reason it is right here."""
        machine = self.state_machine
        acknowledge_state_machine(machine, [self.hook.function, self.helper])
        if self.props.snapshot is not None:
            self._acknowledge_snapshot(self.props.snapshot)
        rehearsal = self.props.rehearsal
        if rehearsal is not None:
            acknowledge_resources(
                machine,
                [
                    *rds_arns(self, "db", [f"{rehearsal.prefix}-*"]),
                    *rds_arns(self, "cluster", [f"{rehearsal.prefix}-*"]),
                ],
                REHEARSAL_REASON,
            )
        if self.props.fleet is not None:
            self._acknowledge_fleet(self.props.fleet)

    def _acknowledge_snapshot(self, snapshot: SnapshotOptions) -> None:
        machine = self.state_machine
        ours = [
            *rds_arns(self, "snapshot", [f"{snapshot.prefix}-*"]),
            *rds_arns(self, "cluster-snapshot", [f"{snapshot.prefix}-*"]),
        ]
        acknowledge_resources(
            machine,
            ours,
            "The pre-migration snapshot: created, tagged and described only under "
            "the workflow's prefix; its identifier (a hash of the execution and the source) is "
            "made at run time.",
        )
        acknowledge_resources(
            self.helper_role,
            [*ours, *rds_arns(self, "snapshot", ["*"]), *rds_arns(self, "cluster-snapshot", ["*"])],
            "Pruning lists a source's manual snapshots (rds:Describe*Snapshots: read-only "
            "metadata) and may delete only the hook's own, whose identifiers start with the "
            "workflow's prefix.",
        )

    def _acknowledge_fleet(self, fleet: FleetOptions) -> None:
        machine = self.state_machine
        name = machine_name(machine)
        acknowledge_resources(
            machine,
            [
                f"{execution_arn_prefix(self, name)}*",
                arn(self, "states", "execution", f"{name}/Databases:*"),
            ],
            "The Distributed Map starts, describes and stops its own child executions "
            "(execution:<this state machine>/Databases:<generated>), nothing else.",
        )
        if fleet.targets_object is not None:
            acknowledge_resources(
                machine,
                [s3_arn(self, fleet.targets_object.bucket.bucket_name, "*")],
                "CDK's S3 JSON item reader grants s3:GetObject on the bucket's objects; the "
                "state machine reads the one targets object it is given.",
            )
        if fleet.results_bucket is not None:
            bucket = fleet.results_bucket.bucket_arn
            by_name = s3_arn(self, fleet.results_bucket.bucket_name, "*")
            acknowledge_resources(
                machine,
                [f"{bucket}/{fleet.results_prefix}/*", f"{bucket}/*", by_name],
                "The Distributed Map's ResultWriter writes each database's result under the "
                "results prefix (object names generated per Map Run).",
            )
            acknowledge_resources(
                self.helper_role,
                [f"{bucket}/{fleet.results_prefix}/*"],
                "The summary reads the Map Run's result files under the results prefix.",
            )
            Validations.of(self.helper_role).acknowledge(
                *[
                    Acknowledgment(
                        id=f"AwsSolutions-IAM5[Action::s3:{action}]",
                        reason="CDK's read grant on the results prefix (GetObject*, GetBucket*, List*): "
                        "the summary reads the Map Run's result files.",
                    )
                    for action in ("GetObject*", "GetBucket*", "List*")
                ]
            )

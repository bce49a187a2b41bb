"""``DeployWait`` (``run_on_deploy()``, the deploy gate of docs/workflow.md): CloudFormation waits for the
migration workflow and hears exactly one answer, within the custom resource's ServiceTimeout (at most an hour),
so the ECS service that depends on it starts only on a migrated schema and a deploy never hangs.

The design (three layers; each answers only when the one before it could not):

1. **The wait's own state machine answers.** The custom resource's ServiceToken is the helper function. For
   Create/Update it starts the gate's execution, named ``cfn-<RequestId>`` (a re-delivered event finds the
   running one: ExecutionAlreadyExists), and returns without answering; for Delete it answers SUCCESS at once
   (the schema is never touched). The gate runs the workflow as a nested execution (``startExecution.sync:2``,
   named after the request too) under a task timeout of ``budget``; success -> ``RespondSuccess`` (the summary
   as Data), any failure or the timeout -> stop the nested execution (no further revision starts) ->
   ``RespondFailure`` (the summary's message as Reason). The Respond states PUT to the ResponseURL (retried).
2. **An execution that ends without answering is answered from its end.** An EventBridge rule on the gate's
   FAILED / TIMED_OUT / ABORTED executions invokes the helper, which looks in the execution's history for a
   Respond state that finished; only when there is none does it PUT FAILED. (The gate's own timeout is
   ``budget`` + 5 minutes, so even an execution stuck outside its catches ends, and is answered, in time.)
3. **CloudFormation's own bound.** ServiceTimeout = ``budget`` + 10 minutes (<= 3600 s): should both layers
   fail, the stack operation fails at that bound instead of waiting the default hour.

A rollback's Update carries the previous concrete revision: the workflow finds the database at or past it and
answers SUCCESS without touching the schema (as ``MigrationHook.run_on_deploy`` does).
Not verifiable locally: EventBridge's delivery of Step Functions status changes (layer 2 is tested by invoking
the helper with the documented event) and CloudFormation's handling of the ServiceTimeout.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from alembic_hook_cdk.workflow.arns import execution_arn_prefix, machine_name
from alembic_hook_cdk.workflow.definition import LAMBDA_SERVICE_ERRORS
from alembic_hook_cdk.workflow.nag import acknowledge_resources, acknowledge_state_machine
from lambda_fn.contract import FUNCTION_ERROR

RESOURCE_TYPE = "Custom::DbMigrationWorkflow"
DEFAULT_BUDGET = Duration.minutes(45)
OWN_SLACK = Duration.minutes(5)  # the wait's own timeout beyond the nested run's
SERVICE_SLACK = Duration.minutes(10)  # CloudFormation's beyond the nested run's
MAX_SERVICE_TIMEOUT = 3600


class DeployWait(Construct):
    """The custom resource (``resource``), its state machine (``state_machine``), the EventBridge rule that
    answers for an execution that ended without answering (``rule``) and the helper's policy (``policy``).
    Its construct id stays ``DeployGate`` (``MigrationWorkflow.run_on_deploy``): the logical ids of deployed
    stacks do not change."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow_state_machine: sfn.StateMachine,
        helper: lambda_.IFunction,
        helper_role: iam.Role,
        target_revision: str,
        budget: Duration,
        snapshot: bool,
        fingerprint: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        service_timeout = _service_timeout(budget)
        prefix = execution_arn_prefix(self, machine_name(workflow_state_machine))
        chain = self._chain(workflow_state_machine, helper, budget=budget, prefix=prefix)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="CloudFormation's deploy gate: runs the migration workflow and answers the custom resource once",
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.seconds(budget.to_seconds() + OWN_SLACK.to_seconds()),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        self.rule = self._answer_ended(helper)
        own_executions = f"{execution_arn_prefix(self, machine_name(self.state_machine))}*"
        self.policy = self._helper_policy(helper_role, own_executions)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=helper.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={
                "GateStateMachineArn": self.state_machine.state_machine_arn,
                "TargetRevision": target_revision,
                "MigrationsFingerprint": fingerprint,
                "Snapshot": "true" if snapshot else "false",
            },
            service_timeout=Duration.seconds(service_timeout),
        )
        self.resource.node.add_dependency(self.policy)
        self.resource.node.add_dependency(self.rule)
        self._acknowledge(helper, prefix=prefix, own_executions=own_executions)

    # -- layer 1: the state machine that answers --------------------------------------------------------------------

    def _chain(
        self,
        workflow: sfn.StateMachine,
        helper: lambda_.IFunction,
        *,
        budget: Duration,
        prefix: str,
    ) -> sfn.IChainable:
        """Names -> Run (the workflow, nested, within ``budget``) -> RespondSuccess; any failure -> StopRun ->
        RespondFailure -> Failed."""
        child_name = sfn.JsonPath.format("cfn-{}", sfn.JsonPath.string_at("$.cfn.RequestId"))
        names = sfn.Pass(
            self,
            "Names",
            parameters={"execution_prefix": prefix, "child": child_name},
            result_path="$.gate",
        )
        run = tasks.StepFunctionsStartExecution(
            self,
            "Run",
            state_machine=workflow,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            name=sfn.JsonPath.string_at("$.gate.child"),
            input=sfn.TaskInput.from_object(
                {
                    "revision": sfn.JsonPath.string_at("$.revision"),
                    "snapshot": sfn.JsonPath.object_at("$.snapshot"),
                }
            ),
            result_selector={"summary": sfn.JsonPath.object_at("$.Output")},
            result_path="$.run",
            task_timeout=sfn.Timeout.duration(budget),
        )
        stop = tasks.CallAwsService(
            self,
            "StopRun",
            service="sfn",
            action="stopExecution",
            iam_action="states:StopExecution",
            parameters={
                "ExecutionArn": sfn.JsonPath.format(
                    "{}{}",
                    sfn.JsonPath.string_at("$.gate.execution_prefix"),
                    sfn.JsonPath.string_at("$.gate.child"),
                ),
                "Cause": "The CloudFormation deploy gate gave up waiting (its budget) or the run failed.",
            },
            iam_resources=[f"{prefix}cfn-*"],
            result_path=sfn.JsonPath.DISCARD,
        )
        respond_success, respond_failure = self._responses(helper)
        run.add_catch(stop, errors=["States.ALL"], result_path="$.error")
        stop.add_catch(respond_failure, errors=["States.ALL"], result_path="$.stop_error")
        stop.next(respond_failure)
        respond_failure.next(
            sfn.Fail(
                self,
                "Failed",
                error=FUNCTION_ERROR,
                cause="The migration workflow failed; CloudFormation was told why.",
            )
        )
        return names.next(run).next(respond_success).next(sfn.Succeed(self, "Answered"))

    def _responses(
        self, helper: lambda_.IFunction
    ) -> tuple[tasks.LambdaInvoke, tasks.LambdaInvoke]:
        """The helper PUTs SUCCESS (the summary as Data) or FAILED (the summary's message as Reason)."""
        cfn = sfn.JsonPath.object_at("$.cfn")
        success = self._respond(
            "RespondSuccess",
            helper,
            {
                "action": "respond",
                "status": "SUCCESS",
                "cfn": cfn,
                "data": sfn.JsonPath.object_at("$.run.summary"),
            },
        )
        failure = self._respond(
            "RespondFailure",
            helper,
            {
                "action": "respond",
                "status": "FAILED",
                "cfn": cfn,
                "error": sfn.JsonPath.object_at("$.error"),
            },
        )
        not_answered = sfn.Fail(
            self,
            "NotAnswered",
            error="ResponseNotDelivered",
            cause="The gate could not answer CloudFormation; its EventBridge rule answers FAILED.",
        )
        for respond in (success, failure):
            respond.add_catch(not_answered, errors=["States.ALL"], result_path="$.respond_error")
        return success, failure

    def _respond(
        self, construct_id: str, helper: lambda_.IFunction, payload: dict[str, Any]
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=helper,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(Duration.minutes(3)),
        )
        task.add_retry(
            errors=LAMBDA_SERVICE_ERRORS,
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=3,
        )
        task.add_retry(errors=["States.ALL"], interval=Duration.seconds(5), max_attempts=2)
        return task

    # -- layer 2: an execution that ended without answering is answered from its status change ------------------------

    def _answer_ended(self, helper: lambda_.IFunction) -> events.Rule:
        rule = events.Rule(
            self,
            "Ended",
            description="Answers CloudFormation for a gate execution that ended without answering",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                },
            ),
        )
        rule.add_target(
            targets.LambdaFunction(helper, retry_attempts=8, max_event_age=Duration.hours(1))
        )
        return rule

    def _helper_policy(self, helper_role: iam.Role, own_executions: str) -> iam.Policy:
        """The helper's part, in a policy of its own: the wait's definition invokes the helper, so the helper's
        default policy (which its function waits for) must not name the wait's state machine."""
        return iam.Policy(
            self,
            "HelperPolicy",
            roles=[helper_role],
            statements=[
                iam.PolicyStatement(
                    actions=["states:StartExecution"],
                    resources=[self.state_machine.state_machine_arn],
                ),
                iam.PolicyStatement(
                    actions=["states:GetExecutionHistory", "states:DescribeExecution"],
                    resources=[own_executions],
                ),
            ],
        )

    def _acknowledge(self, helper: lambda_.IFunction, *, prefix: str, own_executions: str) -> None:
        acknowledge_resources(
            self.policy,
            [own_executions],
            "The helper reads the history of the gate's own executions (to answer only those that "
            "did not answer themselves); their names are cfn-<request id>, known only when "
            "CloudFormation asks.",
        )
        machine = self.state_machine
        acknowledge_resources(
            machine,
            [f"{prefix}cfn-*", f"{prefix[:-1]}*"],
            "The gate starts (.sync: describes and stops) only workflow executions it names "
            "cfn-<CloudFormation request id>; CDK's .sync grant is on the workflow's executions.",
        )
        acknowledge_state_machine(
            machine,
            [helper],
            extra="The .sync integration's managed EventBridge rule is named by AWS.",
        )


def _service_timeout(budget: Duration) -> int:
    """CloudFormation's bound (layer 3): ``budget`` + 10 minutes, at most the hour it allows."""
    service_timeout = int(budget.to_seconds() + SERVICE_SLACK.to_seconds())
    if budget.to_seconds() < 60 or service_timeout > MAX_SERVICE_TIMEOUT:
        raise ValueError(
            f"the deploy gate's budget must be 1..{(MAX_SERVICE_TIMEOUT - 600) // 60} minutes: "
            "CloudFormation waits at most an hour for a custom resource"
        )
    return service_timeout

"""The state machine's definition, built once from the construct's parts (JSONPath ASL).

One database's flow (also each item of a fleet's Distributed Map)::

    Target -> [snapshot wanted and revisions pending?] -> snapshot (create, Wait/Describe until available,
    prune) -> Migrate (partial, budgeted) -> Count -> More?
        partial + long_revision -> LongLane (CodeBuild .sync) -> Migrate
        partial                 -> Migrate                        (at most max_iterations)
        applied / up_to_date    -> Done (the database's report)
        any failure             -> Failed (the database's report, with the failure's kind and message)

Then ``Summarize`` (the helper: counts, kinds, tolerated percentage) and ``Succeeded?``: the execution
succeeds with the summary as its output, or fails with error ``MigrationFailed`` and the summary as its cause.

State data: ``options`` (the execution's input over the defaults), ``settings`` (the construct's bounds),
``target`` (one database), ``loop`` (iterations, revisions applied, where it started), ``result`` (the last
invocation's, trimmed by a ResultSelector), ``snapshot_id`` ("" when none), ``failure`` ({kind, message}).
A function failure (``MigrationFailed``) carries the engine's result object as its error message: its kind
and message are read from it; any other failure (a timeout, Lambda's service, a snapshot) keeps its error
name as the kind. Nothing in the state is a credential: targets name their secrets by ARN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Duration, Fn, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from alembic_hook_cdk.workflow.props import MigrationWorkflowProps, SnapshotOptions
from alembic_hook_cdk.workflow.rehearsal import RehearsalStage
from alembic_hook_cdk.workflow.rehearsal import settings as rehearsal_settings
from lambda_fn.contract import FUNCTION_ERROR

# The direct payload's failure (lambda_fn/sources/direct.py): errorType, and errorMessage = the result as JSON.
FUNCTION_FAILURE = FUNCTION_ERROR
# Lambda's own failures worth another invoke: the function never ran, or Lambda lost the answer. A function
# error (MigrationFailed, a timeout) is never retried: the engine reported it, or the revision would time
# out again. A retry after a revision committed is a no-op for that revision (lock, version table, ledger).
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
TARGET_DEFAULTS = {"id": "", "host": "", "name": "", "instance": "", "cluster": ""}
# aws-sdk errors no retry can change (the names Step Functions gives RDS's faults)
NOT_FOUND = ["Rds.DbInstanceNotFoundException", "Rds.DbSnapshotNotFoundException",
             "Rds.DbClusterSnapshotNotFoundException"]
# RDS snapshot states that will never become available
SNAPSHOT_DEAD = ("failed", "error", "deleted", "deleting", "incompatible*", "*fail*")


@dataclass(frozen=True)
class Parts:
    """What the definition invokes: the hook's function, the helper, the long lane (optional)."""

    function: lambda_.IFunction
    function_timeout: Duration
    helper: lambda_.IFunction
    long_lane: codebuild.IProject | None
    long_lane_timeout: Duration


class Definition:
    """Builds the chain in ``scope`` (the construct); ``start`` is what the state machine runs."""

    def __init__(self, scope: Construct, props: MigrationWorkflowProps, parts: Parts, *, budget: int,
                 target: dict[str, Any] | None) -> None:
        self.scope = scope
        self.props = props
        self.parts = parts
        self.budget = budget
        flow_start, flow_ends = self._database_flow()
        prologue = self._options()
        fleet = props.fleet
        if fleet is None:
            assert target is not None
            one = sfn.Pass(scope, "OneDatabase", result=sfn.Result.from_object(target), result_path="$.target")
            # the flow's last state's output is the database's report
            summarize = self._summarize(results=sfn.JsonPath.array(sfn.JsonPath.entire_payload))
            for end in flow_ends:
                end.next(summarize)
            self.start: sfn.IChainable = prologue.next(one).next(flow_start)
        else:
            entry, fan_out = self._fan_out(flow_start)
            writer = fleet.results_bucket is not None
            summarize = self._summarize(
                results=None if writer else sfn.JsonPath.list_at("$.results"),
                written=sfn.JsonPath.object_at("$.results.ResultWriterDetails") if writer else None,
            )
            fan_out.next(summarize)
            self.start = prologue.next(entry)

    # -- the execution's options and the construct's bounds ------------------------------------------------------

    def _options(self) -> sfn.Chain:
        props = self.props
        snapshot = props.snapshot
        settings: dict[str, Any] = {
            "budget_seconds": self.budget,
            "max_iterations": props.max_iterations,
            "snapshot_poll_seconds": int(snapshot.poll_interval.to_seconds()) if snapshot else 0,
            "snapshot_max_polls": snapshot.max_polls if snapshot else 0,
            "snapshot_prefix": snapshot.prefix if snapshot else "",
            "snapshot_keep": snapshot.keep if snapshot else 0,
            **rehearsal_settings(props.rehearsal),
        }
        defaults = sfn.Pass(self.scope, "Defaults", result_path="$.defaults",
                            result=sfn.Result.from_object({"revision": "head", "snapshot": True,
                                                           **({"rehearsal": True} if props.rehearsal else {})}))
        options = sfn.Pass(self.scope, "Options", parameters={
            # the execution's input ({"revision": ..., "snapshot": false}, all optional) over the defaults
            "options": sfn.JsonPath.json_merge(sfn.JsonPath.object_at("$.defaults"),
                                               sfn.JsonPath.object_at("$$.Execution.Input")),
            "execution": {"id": sfn.JsonPath.execution_id, "name": sfn.JsonPath.execution_name},
            "settings": settings,
        })
        return defaults.next(options)

    # -- one database --------------------------------------------------------------------------------------------

    def _database_flow(self) -> tuple[sfn.IChainable, list[sfn.INextable]]:
        scope = self.scope
        failed = sfn.Pass(scope, "Failed", parameters={
            "target": sfn.JsonPath.object_at("$.target"),
            "status": "failed",
            "error": sfn.JsonPath.object_at("$.failure"),
            "from_revision": sfn.JsonPath.string_at("$.loop.from_revision"),
            "applied_count": sfn.JsonPath.number_at("$.loop.applied_count"),
            "iterations": sfn.JsonPath.number_at("$.loop.iteration"),
            "snapshot": sfn.JsonPath.string_at("$.snapshot_id"),
        })
        done = sfn.Pass(scope, "Done", parameters={
            "target": sfn.JsonPath.object_at("$.target"),
            "status": sfn.JsonPath.string_at("$.result.status"),
            "from_revision": sfn.JsonPath.string_at("$.loop.from_revision"),
            "to_revision": sfn.JsonPath.string_at("$.result.to_revision"),
            "applied_count": sfn.JsonPath.number_at("$.loop.applied_count"),
            "iterations": sfn.JsonPath.number_at("$.loop.iteration"),
            "snapshot": sfn.JsonPath.string_at("$.snapshot_id"),
            "run_id": sfn.JsonPath.number_at("$.result.run_id"),
            "message": sfn.JsonPath.string_at("$.result.message"),
        })
        self.failed = failed
        self.done = done
        self.function_failure = self._function_failure()

        migrate = self._migrate()
        start, prepare = self._prepare()
        after: sfn.IChainable = migrate
        if self.props.rehearsal is not None:  # opt-in: measured on a copy first (infra/workflow/rehearsal.py)
            after = RehearsalStage(self, self.props.rehearsal, migrate).start
        prepare.next(self._snapshot(after) if self.props.snapshot is not None else after)
        return start, [failed, done]

    def _prepare(self) -> tuple[sfn.Pass, sfn.Pass]:
        """The target's optional fields as "" (a Choice cannot test a missing field without IsPresent on each),
        the loop's counters, no snapshot yet."""
        scope = self.scope
        defaults = sfn.Pass(scope, "TargetDefaults", result=sfn.Result.from_object(TARGET_DEFAULTS),
                            result_path="$.target_defaults")
        prepare = sfn.Pass(scope, "Prepare", parameters={
            "options": sfn.JsonPath.object_at("$.options"),
            "execution": sfn.JsonPath.object_at("$.execution"),
            "settings": sfn.JsonPath.object_at("$.settings"),
            "target": sfn.JsonPath.json_merge(sfn.JsonPath.object_at("$.target_defaults"),
                                              sfn.JsonPath.object_at("$.target")),
            "loop": {"iteration": 0, "applied_count": 0, "from_revision": ""},
            "snapshot_id": "",
        })
        defaults.next(prepare)
        return defaults, prepare

    def _database(self) -> dict[str, Any]:
        return {"secret_arn": sfn.JsonPath.string_at("$.target.secret_arn"),
                "host": sfn.JsonPath.string_at("$.target.host"),
                "name": sfn.JsonPath.string_at("$.target.name")}

    def _invoke(self, construct_id: str, function: lambda_.IFunction, payload: dict[str, Any], *,
                result_selector: dict[str, Any] | None, result_path: str | None,
                timeout: Duration) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self.scope, construct_id, lambda_function=function, payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True, retry_on_service_exceptions=False, result_selector=result_selector,
            result_path=result_path, task_timeout=sfn.Timeout.duration(timeout))
        if self.props.invoke_retries:
            task.add_retry(errors=LAMBDA_SERVICE_ERRORS, interval=Duration.seconds(1), backoff_rate=2,
                           max_attempts=self.props.invoke_retries)
        return task

    def _function_timeout(self) -> Duration:
        # Step Functions stops waiting a minute after the function's own end: never while it still runs
        return Duration.seconds(self.parts.function_timeout.to_seconds() + 60)

    def _migrate(self) -> tasks.LambdaInvoke:
        scope = self.scope
        migrate = self._invoke("Migrate", self.parts.function, {
            "command": "upgrade",
            "revision": sfn.JsonPath.string_at("$.options.revision"),
            "partial": True,
            "budget_seconds": self.budget,
            "snapshot": sfn.JsonPath.string_at("$.snapshot_id"),
            "database": self._database(),
        }, result_selector={
            "status": sfn.JsonPath.string_at("$.status"),
            "from_revision": sfn.JsonPath.string_at("$.from_revision"),
            "to_revision": sfn.JsonPath.string_at("$.to_revision"),
            "applied_count": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.applied")),
            "pending_count": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.pending")),
            "long_revision": sfn.JsonPath.string_at("$.long_revision"),
            "run_id": sfn.JsonPath.number_at("$.run_id"),
            "message": sfn.JsonPath.string_at("$.message"),
        }, result_path="$.result", timeout=self._function_timeout())
        migrate.add_catch(self.function_failure, errors=["States.ALL"], result_path="$.error")

        record_start = sfn.Pass(scope, "RecordStart", input_path="$.result.from_revision",
                                result_path="$.loop.from_revision")
        count = sfn.Pass(scope, "Count", parameters={
            "iteration": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.loop.iteration"), 1),
            "applied_count": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.loop.applied_count"),
                                                   sfn.JsonPath.number_at("$.result.applied_count")),
            "from_revision": sfn.JsonPath.string_at("$.loop.from_revision"),
        }, result_path="$.loop")
        first = sfn.Choice(scope, "FirstIteration?").when(
            sfn.Condition.number_equals("$.loop.iteration", 0), record_start.next(count)).otherwise(count)
        migrate.next(first)

        partial = sfn.Condition.string_equals("$.result.status", "partial")
        long_next = sfn.Condition.and_(partial, sfn.Condition.is_not_null("$.result.long_revision"))
        exhausted = sfn.Condition.number_greater_than_equals("$.loop.iteration", self.props.max_iterations)
        more = sfn.Choice(scope, "More?")
        more.when(sfn.Condition.and_(partial, exhausted), self._fail_with(
            "IterationsExhausted", "iterations_exhausted",
            f"Revisions remain after {self.props.max_iterations} invocations (max_iterations); the database is at "
            "the last revision applied and the next execution continues from there."))
        if self.parts.long_lane is not None:
            more.when(long_next, self._long_lane(migrate))
        else:
            more.when(long_next, self._fail_with(
                "NoLongLane", "long_revision",
                "The next revision is declared long (alembic_hook_long = True) and this workflow has no long lane "
                "(long_lane.enabled=False): run it with the CLI (alembic-hook upgrade <revision>)."))
        more.when(partial, migrate)
        more.when(sfn.Condition.or_(sfn.Condition.string_equals("$.result.status", "applied"),
                                    sfn.Condition.string_equals("$.result.status", "up_to_date")), self.done)
        more.otherwise(self._fail_with("UnexpectedStatus", "unexpected_status",
                                       "The function answered a status the workflow does not know."))
        count.next(more)
        return migrate

    def _fail_with(self, construct_id: str, kind: str, message: str) -> sfn.Pass:
        state = sfn.Pass(self.scope, construct_id, result=sfn.Result.from_object({"kind": kind, "message": message}),
                         result_path="$.failure")
        state.next(self.failed)
        return state

    def _function_failure(self) -> sfn.Choice:
        """A Catch's {Error, Cause} as {kind, message}: the engine's own for MigrationFailed (its message is the
        result object), the error name otherwise."""
        scope = self.scope
        payload = sfn.Pass(scope, "ReadFailurePayload", parameters={
            "payload": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.Cause"))},
            result_path="$.error")
        result = sfn.Pass(scope, "ReadFailureResult", parameters={
            "result": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.payload.errorMessage"))},
            result_path="$.error")
        kind = sfn.Pass(scope, "FailureKind", parameters={
            "kind": sfn.JsonPath.string_at("$.error.result.error.kind"),
            "message": sfn.JsonPath.string_at("$.error.result.error.message")}, result_path="$.failure")
        payload.next(result).next(kind)
        # A Pass state takes no Catch: the parse runs in a one-branch Parallel, whose Catch keeps the failure
        # (its error name and raw cause) should a cause ever not parse (the function bounds it to fit).
        parse = sfn.Parallel(scope, "ParseFailure", result_selector={
            "kind": sfn.JsonPath.string_at("$[0].failure.kind"),
            "message": sfn.JsonPath.string_at("$[0].failure.message")}, result_path="$.failure")
        parse.branch(payload)
        parse.add_catch(self._other_failure("UnreadableFailure", None), errors=["States.ALL"],
                        result_path="$.parse_error")
        parse.next(self.failed)
        return sfn.Choice(scope, "FunctionFailure?").when(
            sfn.Condition.string_equals("$.error.Error", FUNCTION_FAILURE), parse
        ).otherwise(self._other_failure("Invoke", None))

    def _other_failure(self, label: str, kind: str | None) -> sfn.Choice:
        """A failure that is not the engine's: its error name (or ``kind``) and its cause when it has one."""
        scope = self.scope
        kind_value = kind if kind is not None else sfn.JsonPath.string_at("$.error.Error")
        with_cause = sfn.Pass(scope, f"{label}FailureWithCause", parameters={
            "kind": kind_value,
            "message": sfn.JsonPath.format("{}: {}", sfn.JsonPath.string_at("$.error.Error"),
                                           sfn.JsonPath.string_at("$.error.Cause"))}, result_path="$.failure")
        without = sfn.Pass(scope, f"{label}FailureWithoutCause", parameters={
            "kind": kind_value, "message": sfn.JsonPath.string_at("$.error.Error")}, result_path="$.failure")
        with_cause.next(self.failed)
        without.next(self.failed)
        return sfn.Choice(scope, f"{label}FailureCause?").when(
            sfn.Condition.is_present("$.error.Cause"), with_cause).otherwise(without)

    # -- the long lane -------------------------------------------------------------------------------------------

    def _long_lane(self, migrate: sfn.IChainable) -> sfn.IChainable:
        project = self.parts.long_lane
        assert project is not None
        build = tasks.CodeBuildStartBuild(
            self.scope, "RunLongLane", project=project, integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            environment_variables_override={
                "TARGET_REVISION": codebuild.BuildEnvironmentVariable(
                    value=sfn.JsonPath.string_at("$.result.long_revision")),
                "TARGET_SECRET_ARN": codebuild.BuildEnvironmentVariable(
                    value=sfn.JsonPath.string_at("$.target.secret_arn")),
                "TARGET_DB_HOST": codebuild.BuildEnvironmentVariable(value=sfn.JsonPath.string_at("$.target.host")),
                "TARGET_DB_NAME": codebuild.BuildEnvironmentVariable(value=sfn.JsonPath.string_at("$.target.name")),
                "WORKFLOW_SNAPSHOT": codebuild.BuildEnvironmentVariable(value=sfn.JsonPath.string_at("$.snapshot_id")),
                "WORKFLOW_EXECUTION": codebuild.BuildEnvironmentVariable(
                    value=sfn.JsonPath.string_at("$.execution.name")),
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(Duration.seconds(self.parts.long_lane_timeout.to_seconds() + 600)))
        build.add_catch(self._other_failure("LongLane", "long_lane_failed"), errors=["States.ALL"],
                        result_path="$.error")
        return build.next(migrate)

    # -- the snapshot --------------------------------------------------------------------------------------------

    def _snapshot(self, migrate: sfn.IChainable) -> sfn.IChainable:
        scope = self.scope
        options = self.props.snapshot
        assert options is not None
        snapshot_failure = self._other_failure("Snapshot", "snapshot_failed")
        plan = self._invoke("Plan", self.parts.function, {
            "command": "status", "revision": sfn.JsonPath.string_at("$.options.revision"),
            "database": self._database(),
        }, result_selector={"status": sfn.JsonPath.string_at("$.status"),
                            "pending_count": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.pending"))},
            result_path="$.plan", timeout=self._function_timeout())
        plan.add_catch(self.function_failure, errors=["States.ALL"], result_path="$.error")

        describe = tasks.CallAwsService(
            scope, "DescribeInstance", service="rds", action="describeDBInstances",
            iam_action="rds:DescribeDBInstances",
            parameters={"DbInstanceIdentifier": sfn.JsonPath.string_at("$.target.instance")},
            iam_resources=self._rds_arns("db", self._allowed(options, "instance")),
            result_selector={"instance": sfn.JsonPath.object_at("$.DbInstances[0]")},
            result_path="$.snapshot_source")
        describe.add_retry(errors=NOT_FOUND, max_attempts=0)  # an instance that is not there stays not there
        describe.add_retry(errors=["States.ALL"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        describe.add_catch(snapshot_failure, errors=["States.ALL"], result_path="$.error")

        instance_branch = self._snapshot_branch("Instance", options, migrate, snapshot_failure)
        cluster_branch = self._snapshot_branch("Cluster", options, migrate, snapshot_failure)
        member = sfn.Pass(scope, "AuroraMember", parameters={
            "kind": "cluster", "id": sfn.JsonPath.string_at("$.snapshot_source.instance.DbClusterIdentifier")},
            result_path="$.snapshot_source").next(cluster_branch)
        instance = sfn.Pass(scope, "InstanceSource", parameters={
            "kind": "instance", "id": sfn.JsonPath.string_at("$.target.instance")},
            result_path="$.snapshot_source").next(instance_branch)
        cluster = sfn.Pass(scope, "ClusterSource", parameters={
            "kind": "cluster", "id": sfn.JsonPath.string_at("$.target.cluster")},
            result_path="$.snapshot_source").next(cluster_branch)
        describe.next(sfn.Choice(scope, "ClusterMember?").when(
            sfn.Condition.is_present("$.snapshot_source.instance.DbClusterIdentifier"), member).otherwise(instance))
        kind = sfn.Choice(scope, "SnapshotKind?").when(
            sfn.Condition.not_(sfn.Condition.string_equals("$.target.cluster", "")), cluster).otherwise(describe)
        plan.next(sfn.Choice(scope, "Pending?").when(
            sfn.Condition.number_greater_than("$.plan.pending_count", 0), kind).otherwise(migrate))
        has_source = sfn.Condition.or_(sfn.Condition.not_(sfn.Condition.string_equals("$.target.instance", "")),
                                       sfn.Condition.not_(sfn.Condition.string_equals("$.target.cluster", "")))
        return sfn.Choice(scope, "SnapshotWanted?").when(
            sfn.Condition.and_(sfn.Condition.boolean_equals("$.options.snapshot", True), has_source), plan
        ).otherwise(migrate)

    def _snapshot_branch(self, kind: str, options: SnapshotOptions, migrate: sfn.IChainable,
                         failure: sfn.IChainable) -> sfn.IChainable:
        """Create (an existing one of this execution counts), poll until available (bounded), prune, go on."""
        scope = self.scope
        cluster = kind == "Cluster"
        api = "DBClusterSnapshot" if cluster else "DBSnapshot"
        id_key = "DbClusterSnapshotIdentifier" if cluster else "DbSnapshotIdentifier"
        source_key = "DbClusterIdentifier" if cluster else "DbInstanceIdentifier"
        sources = self._allowed(options, "cluster" if cluster else "instance")
        snapshot_arns = self._rds_arns("cluster-snapshot" if cluster else "snapshot", [f"{options.prefix}-*"])

        name = sfn.Pass(scope, f"{kind}SnapshotId", parameters={
            "id": sfn.JsonPath.format("{}-{}", sfn.JsonPath.string_at("$.settings.snapshot_prefix"), sfn.JsonPath.hash(
                sfn.JsonPath.format("{}|{}|{}", sfn.JsonPath.string_at("$.execution.id"),
                                    sfn.JsonPath.string_at("$.snapshot_source.kind"),
                                    sfn.JsonPath.string_at("$.snapshot_source.id")), "MD5")),
            "polls": 0}, result_path="$.snapshot")
        create = tasks.CallAwsService(
            scope, f"Create{kind}Snapshot", service="rds", action=f"create{api}", iam_action=f"rds:Create{api}",
            parameters={id_key: sfn.JsonPath.string_at("$.snapshot.id"),
                        source_key: sfn.JsonPath.string_at("$.snapshot_source.id"),
                        "Tags": [{"Key": "alembic-hook", "Value": "pre-migration"},
                                 {"Key": "alembic-hook:execution",
                                  "Value": sfn.JsonPath.string_at("$.execution.name")}]},
            iam_resources=[*self._rds_arns("cluster" if cluster else "db", sources), *snapshot_arns],
            additional_iam_statements=[iam.PolicyStatement(actions=["rds:AddTagsToResource"], resources=snapshot_arns)],
            result_path=sfn.JsonPath.DISCARD)
        exists = sfn.Choice(scope, f"{kind}SnapshotExists?")
        create.add_catch(exists, errors=["States.ALL"], result_path="$.error")
        wait = sfn.Wait(scope, f"Wait{kind}Snapshot",
                        time=sfn.WaitTime.seconds_path("$.settings.snapshot_poll_seconds"))
        exists.when(sfn.Condition.string_matches("$.error.Error", "*AlreadyExists*"), wait).otherwise(failure)
        describe = tasks.CallAwsService(
            scope, f"Describe{kind}Snapshot", service="rds", action=f"describe{api}s", iam_action=f"rds:Describe{api}s",
            parameters={id_key: sfn.JsonPath.string_at("$.snapshot.id")},
            # AWS lists the source (db / cluster) as a resource type of these calls too, beside the snapshot:
            # granted on the snapshot alone, the call may be refused and every run stop at snapshot_failed
            iam_resources=[*self._rds_arns("cluster" if cluster else "db", sources), *snapshot_arns],
            # the whole description, then its Status: moto's JSONPath turns "$.X[0].Status" into a one-element list
            result_selector={"snapshot": sfn.JsonPath.object_at(
                f"$.{'DbClusterSnapshots' if cluster else 'DbSnapshots'}[0]")},
            result_path="$.snapshot_status")
        describe.add_retry(errors=NOT_FOUND, max_attempts=0)
        describe.add_retry(errors=["States.ALL"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        describe.add_catch(failure, errors=["States.ALL"], result_path="$.error")
        count = sfn.Pass(scope, f"Count{kind}Poll", parameters={
            "id": sfn.JsonPath.string_at("$.snapshot.id"),
            "polls": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.snapshot.polls"), 1)}, result_path="$.snapshot")
        taken = sfn.Pass(scope, f"{kind}SnapshotTaken", input_path="$.snapshot.id", result_path="$.snapshot_id")
        prune = self._invoke(f"Prune{kind}Snapshots", self.parts.helper, {
            "action": "prune", "kind": "cluster" if cluster else "instance",
            "source": sfn.JsonPath.string_at("$.snapshot_source.id"),
            "prefix": options.prefix, "keep": options.keep, "current": sfn.JsonPath.string_at("$.snapshot.id"),
        }, result_selector=None, result_path="$.pruned", timeout=Duration.minutes(5))
        # a snapshot that could not be pruned costs storage, never the migration: noted and passed over
        prune.add_catch(taken, errors=["States.ALL"], result_path="$.prune_error")
        status = "$.snapshot_status.snapshot.Status"
        dead = sfn.Condition.or_(*[sfn.Condition.string_matches(status, s) for s in SNAPSHOT_DEAD])
        ready = sfn.Choice(scope, f"{kind}SnapshotReady?")
        ready.when(sfn.Condition.string_equals(status, "available"), prune)
        ready.when(dead, self._fail_with(f"{kind}SnapshotDead", "snapshot_failed",
                                         "The pre-migration snapshot did not become available; nothing was applied."))
        ready.when(sfn.Condition.number_greater_than_equals_json_path("$.snapshot.polls",
                                                                      "$.settings.snapshot_max_polls"),
                   self._fail_with(f"{kind}SnapshotTimeout", "snapshot_timeout",
                                   f"The pre-migration snapshot was not available within "
                                   f"{options.timeout.to_human_string()}; nothing was applied."))
        ready.otherwise(count)
        prune.next(taken)
        taken.next(migrate)
        count.next(wait)
        wait.next(describe)
        describe.next(ready)
        name.next(create)
        create.next(wait)
        return name

    def _allowed(self, options: SnapshotOptions, kind: str) -> list[str]:
        listed = list(options.allowed_instances if kind == "instance" else options.allowed_clusters)
        own = options.instance if kind == "instance" else options.cluster
        fleet = self.props.fleet
        inline = [getattr(t, kind) for t in fleet.targets] if fleet is not None else []
        names = [n for n in [own, *listed, *inline] if n]
        # a source that is not listed cannot be snapshotted: the create fails (AccessDenied) and the database
        # stops before any DDL. An empty list gets an ARN that matches nothing rather than no statement.
        return list(dict.fromkeys(names)) or ["alembic-hook-none"]

    def _rds_arns(self, resource: str, names: Sequence[str]) -> list[str]:
        stack = Stack.of(self.scope)
        return [stack.format_arn(service="rds", resource=resource, resource_name=n,
                                 arn_format=ArnFormat.COLON_RESOURCE_NAME) for n in names]

    # -- many databases ------------------------------------------------------------------------------------------

    def _fan_out(self, flow_start: sfn.IChainable) -> tuple[sfn.IChainable, sfn.DistributedMap]:
        fleet = self.props.fleet
        assert fleet is not None
        reader = None
        items_path = None
        prologue: sfn.Pass | None = None
        if fleet.targets_object is not None:
            reader = sfn.S3JsonItemReader(bucket=fleet.targets_object.bucket, key=fleet.targets_object.key)
        else:
            prologue = sfn.Pass(self.scope, "Targets", result=sfn.Result.from_array(
                [target_item(t) for t in fleet.targets]), result_path="$.targets")
            items_path = "$.targets"
        writer = (sfn.ResultWriterV2(bucket=fleet.results_bucket, prefix=fleet.results_prefix)
                  if fleet.results_bucket is not None else None)
        fan_out = sfn.DistributedMap(
            self.scope, "EachDatabase",
            item_reader=reader, items_path=items_path,
            item_selector={"target": sfn.JsonPath.object_at("$$.Map.Item.Value"),
                           "options": sfn.JsonPath.object_at("$.options"),
                           "execution": sfn.JsonPath.object_at("$.execution"),
                           "settings": sfn.JsonPath.object_at("$.settings")},
            max_concurrency=fleet.max_concurrency,
            # every database reports itself (its failures are caught into its result) and the summary applies
            # the percentage to them; this one counts items whose execution itself broke
            tolerated_failure_percentage=fleet.tolerated_failure_percentage,
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_writer_v2=writer,
            result_path="$.results",
            label="Databases",
        )
        fan_out.item_processor(flow_start)
        fan_out.add_catch(sfn.Fail(self.scope, "FleetFailed", error_path="$.error.Error",
                                   cause="The Distributed Map failed: more databases' executions broke than tolerated, "
                                         "or it could not read its targets. Its Map Run lists each execution."),
                          errors=["States.ALL"], result_path="$.error")
        return (prologue.next(fan_out) if prologue is not None else fan_out), fan_out

    def _summarize(self, *, results: Any = None, written: Any = None) -> sfn.IChainable:
        scope = self.scope
        fleet = self.props.fleet
        payload: dict[str, Any] = {
            "action": "summarize",
            "tolerated_failure_percentage": fleet.tolerated_failure_percentage if fleet is not None else 0,
        }
        if written is not None:
            payload["result_writer"] = written
        else:
            payload["results"] = results
        summarize = self._invoke("Summarize", self.parts.helper, payload, result_selector=None,
                                 result_path="$.summary", timeout=Duration.minutes(5))
        summarize.add_catch(sfn.Fail(scope, "SummaryFailed", error="SummaryFailed",
                                     cause="The results could not be summarised; each database's result is in the "
                                           "execution's history (or its Map Run)."),
                            errors=["States.ALL"], result_path="$.error")
        succeeded = sfn.Choice(scope, "Succeeded?").when(
            sfn.Condition.boolean_equals("$.summary.ok", True),
            sfn.Succeed(scope, "Migrated", output_path="$.summary"),
        ).otherwise(sfn.Fail(scope, "MigrationFailed", error=FUNCTION_FAILURE, cause_path="$.summary.cause"))
        return summarize.next(succeeded)


def target_item(target: Any) -> dict[str, Any]:
    """A ``Target`` as the state machine's item (every optional field present, "" when absent)."""
    item = {"secret_arn": target.secret_arn, "id": target.id or "", "host": target.host or "",
            "name": target.name or "", "instance": target.instance or "", "cluster": target.cluster or ""}
    return item


def machine_name(state_machine: sfn.IStateMachine) -> str:
    """The state machine's name as CDK's own grants spell it (from its ARN), so cdk-nag's findings on those
    grants and ours name the same resource."""
    return Fn.select(6, Fn.split(":", state_machine.state_machine_arn))


def execution_arn_prefix(scope: Construct, state_machine_name: str) -> str:
    """``arn:<partition>:states:<region>:<account>:execution:<name>:`` for a state machine's executions."""
    return Stack.of(scope).format_arn(service="states", resource="execution", resource_name=f"{state_machine_name}:",
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)

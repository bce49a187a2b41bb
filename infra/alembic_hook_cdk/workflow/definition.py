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

By concern: this module composes the flow and holds what every stage uses (invoking a function, the target's
database); ``snapshot.py`` the snapshot, ``rehearsal.py`` the opt-in rehearsal, ``migrate_loop.py`` the loop
and the long lane, ``reports.py`` the ends and the failures, ``fleet_map.py`` the Distributed Map,
``summary.py`` the summary; ``wire.py`` reads the function's answer through the wire contract.

State data: ``options`` (the execution's input over the defaults), ``settings`` (the construct's bounds),
``target`` (one database), ``loop`` (iterations, revisions applied, where it started), ``result`` (the last
invocation's, trimmed by a ResultSelector), ``snapshot_id`` ("" when none), ``failure`` ({kind, message}).
Nothing in the state is a credential: targets name their secrets by ARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from alembic_hook_cdk.workflow.fleet_map import fan_out
from alembic_hook_cdk.workflow.migrate_loop import migrate_loop
from alembic_hook_cdk.workflow.props import MigrationWorkflowProps
from alembic_hook_cdk.workflow.rehearsal import RehearsalStage
from alembic_hook_cdk.workflow.rehearsal import settings as rehearsal_settings
from alembic_hook_cdk.workflow.reports import Reports
from alembic_hook_cdk.workflow.snapshot import snapshot_stage
from alembic_hook_cdk.workflow.summary import summarize

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

    def __init__(
        self,
        scope: Construct,
        props: MigrationWorkflowProps,
        parts: Parts,
        *,
        budget: int,
        target: dict[str, Any] | None,
    ) -> None:
        self.scope = scope
        self.props = props
        self.parts = parts
        self.budget = budget
        flow_start, flow_ends = self._database_flow()
        prologue = self._options()
        if props.fleet is None:
            assert target is not None
            one = sfn.Pass(
                scope, "OneDatabase", result=sfn.Result.from_object(target), result_path="$.target"
            )
            # the flow's last state's output is the database's report
            end = summarize(self, results=sfn.JsonPath.array(sfn.JsonPath.entire_payload))
            for flow_end in flow_ends:
                flow_end.next(end)
            self.start: sfn.IChainable = prologue.next(one).next(flow_start)
        else:
            entry, each = fan_out(self, flow_start)
            writer = props.fleet.results_bucket is not None
            each.next(
                summarize(
                    self,
                    results=None if writer else sfn.JsonPath.list_at("$.results"),
                    written=sfn.JsonPath.object_at("$.results.ResultWriterDetails")
                    if writer
                    else None,
                )
            )
            self.start = prologue.next(entry)

    # -- what every stage uses --------------------------------------------------------------------------------------

    def invoke(
        self,
        construct_id: str,
        function: lambda_.IFunction,
        payload: dict[str, Any],
        *,
        result_selector: dict[str, Any] | None,
        result_path: str | None,
        timeout: Duration,
    ) -> tasks.LambdaInvoke:
        """A synchronous invoke, retried only on Lambda's own failures (``invoke_retries``)."""
        task = tasks.LambdaInvoke(
            self.scope,
            construct_id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_selector=result_selector,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        if self.props.invoke_retries:
            task.add_retry(
                errors=LAMBDA_SERVICE_ERRORS,
                interval=Duration.seconds(1),
                backoff_rate=2,
                max_attempts=self.props.invoke_retries,
            )
        return task

    def function_timeout(self) -> Duration:
        # Step Functions stops waiting a minute after the function's own end: never while it still runs
        return Duration.seconds(self.parts.function_timeout.to_seconds() + 60)

    def database(self) -> dict[str, Any]:
        """The target's database as the function's ``database`` override."""
        return {
            "secret_arn": sfn.JsonPath.string_at("$.target.secret_arn"),
            "host": sfn.JsonPath.string_at("$.target.host"),
            "name": sfn.JsonPath.string_at("$.target.name"),
        }

    # -- the execution's options and the construct's bounds ------------------------------------------------------

    def _options(self) -> sfn.Chain:
        defaults = sfn.Pass(
            self.scope,
            "Defaults",
            result_path="$.defaults",
            result=sfn.Result.from_object(
                {
                    "revision": "head",
                    "snapshot": True,
                    **({"rehearsal": True} if self.props.rehearsal else {}),
                }
            ),
        )
        options = sfn.Pass(
            self.scope,
            "Options",
            parameters={
                # the execution's input ({"revision": ..., "snapshot": false}, all optional) over the defaults
                "options": sfn.JsonPath.json_merge(
                    sfn.JsonPath.object_at("$.defaults"),
                    sfn.JsonPath.object_at("$$.Execution.Input"),
                ),
                "execution": {"id": sfn.JsonPath.execution_id, "name": sfn.JsonPath.execution_name},
                "settings": self._settings(),
            },
        )
        return defaults.next(options)

    def _settings(self) -> dict[str, Any]:
        props = self.props
        snapshot = props.snapshot
        return {
            "budget_seconds": self.budget,
            "max_iterations": props.max_iterations,
            "snapshot_poll_seconds": int(snapshot.poll_interval.to_seconds()) if snapshot else 0,
            "snapshot_max_polls": snapshot.max_polls if snapshot else 0,
            "snapshot_prefix": snapshot.prefix if snapshot else "",
            "snapshot_keep": snapshot.keep if snapshot else 0,
            **rehearsal_settings(props.rehearsal),
        }

    # -- one database --------------------------------------------------------------------------------------------

    def _database_flow(self) -> tuple[sfn.IChainable, list[sfn.INextable]]:
        reports = Reports(self.scope)
        self.failed, self.done, self.function_failure = (
            reports.failed,
            reports.done,
            reports.function_failure,
        )
        self.fail_with, self.other_failure = reports.fail_with, reports.other_failure
        migrate = migrate_loop(self)
        start, prepare = self._prepare()
        after: sfn.IChainable = migrate
        # opt-in: measured on a copy first (workflow/rehearsal.py)
        if self.props.rehearsal is not None:
            after = RehearsalStage(self, self.props.rehearsal, migrate).start
        prepare.next(snapshot_stage(self, after) if self.props.snapshot is not None else after)
        return start, [reports.failed, reports.done]

    def _prepare(self) -> tuple[sfn.Pass, sfn.Pass]:
        """The target's optional fields as "" (a Choice cannot test a missing field without IsPresent on each),
        the loop's counters, no snapshot yet."""
        scope = self.scope
        defaults = sfn.Pass(
            scope,
            "TargetDefaults",
            result=sfn.Result.from_object(TARGET_DEFAULTS),
            result_path="$.target_defaults",
        )
        prepare = sfn.Pass(
            scope,
            "Prepare",
            parameters={
                "options": sfn.JsonPath.object_at("$.options"),
                "execution": sfn.JsonPath.object_at("$.execution"),
                "settings": sfn.JsonPath.object_at("$.settings"),
                "target": sfn.JsonPath.json_merge(
                    sfn.JsonPath.object_at("$.target_defaults"), sfn.JsonPath.object_at("$.target")
                ),
                "loop": {"iteration": 0, "applied_count": 0, "from_revision": ""},
                "snapshot_id": "",
            },
        )
        defaults.next(prepare)
        return defaults, prepare

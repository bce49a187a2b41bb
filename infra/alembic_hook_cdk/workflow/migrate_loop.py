"""The budgeted loop: ``Migrate`` (the function, ``partial``, within the budget) -> ``Count`` -> ``More?``::

partial + long_revision -> LongLane (CodeBuild .sync) -> Migrate
partial                 -> Migrate                        (at most max_iterations)
applied / up_to_date    -> Done
anything else           -> Failed
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from alembic_hook_cdk.workflow.wire import from_answer, from_result
from lambda_fn.contract import REACHED, Status

if TYPE_CHECKING:
    from alembic_hook_cdk.workflow.definition import Definition

STATUS = from_result("status")


def migrate_loop(d: Definition) -> tasks.LambdaInvoke:
    """The loop's entry (``Migrate``), every way out of it wired."""
    migrate = _migrate(d)
    record_start = sfn.Pass(
        d.scope,
        "RecordStart",
        input_path=from_result("from_revision"),
        result_path="$.loop.from_revision",
    )
    count = _count(d)
    first = (
        sfn.Choice(d.scope, "FirstIteration?")
        .when(sfn.Condition.number_equals("$.loop.iteration", 0), record_start.next(count))
        .otherwise(count)
    )
    migrate.next(first)
    count.next(_more(d, migrate))
    return migrate


def _migrate(d: Definition) -> tasks.LambdaInvoke:
    migrate = d.invoke(
        "Migrate",
        d.parts.function,
        {
            "command": "upgrade",
            "revision": sfn.JsonPath.string_at("$.options.revision"),
            "partial": True,
            "budget_seconds": d.budget,
            "snapshot": sfn.JsonPath.string_at("$.snapshot_id"),
            "database": d.database(),
        },
        result_selector={
            "status": sfn.JsonPath.string_at(from_answer("status")),
            "from_revision": sfn.JsonPath.string_at(from_answer("from_revision")),
            "to_revision": sfn.JsonPath.string_at(from_answer("to_revision")),
            "applied_count": sfn.JsonPath.array_length(
                sfn.JsonPath.list_at(from_answer("applied"))
            ),
            "pending_count": sfn.JsonPath.array_length(
                sfn.JsonPath.list_at(from_answer("pending"))
            ),
            "long_revision": sfn.JsonPath.string_at(from_answer("long_revision")),
            "run_id": sfn.JsonPath.number_at(from_answer("run_id")),
            "message": sfn.JsonPath.string_at(from_answer("message")),
        },
        result_path="$.result",
        timeout=d.function_timeout(),
    )
    migrate.add_catch(d.function_failure, errors=["States.ALL"], result_path="$.error")
    return migrate


def _count(d: Definition) -> sfn.Pass:
    return sfn.Pass(
        d.scope,
        "Count",
        parameters={
            "iteration": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.loop.iteration"), 1),
            "applied_count": sfn.JsonPath.math_add(
                sfn.JsonPath.number_at("$.loop.applied_count"),
                sfn.JsonPath.number_at("$.result.applied_count"),
            ),
            "from_revision": sfn.JsonPath.string_at("$.loop.from_revision"),
        },
        result_path="$.loop",
    )


def _more(d: Definition, migrate: sfn.IChainable) -> sfn.Choice:
    partial = sfn.Condition.string_equals(STATUS, Status.PARTIAL.value)
    long_next = sfn.Condition.and_(partial, sfn.Condition.is_not_null(from_result("long_revision")))
    exhausted = sfn.Condition.number_greater_than_equals("$.loop.iteration", d.props.max_iterations)
    more = sfn.Choice(d.scope, "More?")
    more.when(
        sfn.Condition.and_(partial, exhausted),
        d.fail_with(
            "IterationsExhausted",
            "iterations_exhausted",
            f"Revisions remain after {d.props.max_iterations} invocations (max_iterations); the database is at "
            "the last revision applied and the next execution continues from there.",
        ),
    )
    more.when(
        long_next,
        _long_lane(d, migrate)
        if d.parts.long_lane is not None
        else d.fail_with(
            "NoLongLane",
            "long_revision",
            "The next revision is declared long (alembic_hook_long = True) and this workflow has no long lane "
            "(long_lane.enabled=False): run it with the CLI (alembic-hook upgrade <revision>).",
        ),
    )
    more.when(partial, migrate)
    reached = [sfn.Condition.string_equals(STATUS, status.value) for status in sorted(REACHED)]
    more.when(sfn.Condition.or_(*reached), d.done)
    more.otherwise(
        d.fail_with(
            "UnexpectedStatus",
            "unexpected_status",
            "The function answered a status the workflow does not know.",
        )
    )
    return more


def _long_lane(d: Definition, migrate: sfn.IChainable) -> sfn.IChainable:
    """The next revision is declared long: CodeBuild runs it (.sync), then the loop goes on."""
    project = d.parts.long_lane
    assert project is not None

    def variable(path: str) -> codebuild.BuildEnvironmentVariable:
        return codebuild.BuildEnvironmentVariable(value=sfn.JsonPath.string_at(path))

    build = tasks.CodeBuildStartBuild(
        d.scope,
        "RunLongLane",
        project=project,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        environment_variables_override={
            "TARGET_REVISION": variable(from_result("long_revision")),
            "TARGET_SECRET_ARN": variable("$.target.secret_arn"),
            "TARGET_DB_HOST": variable("$.target.host"),
            "TARGET_DB_NAME": variable("$.target.name"),
            "WORKFLOW_SNAPSHOT": variable("$.snapshot_id"),
            "WORKFLOW_EXECUTION": variable("$.execution.name"),
        },
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=sfn.Timeout.duration(
            Duration.seconds(d.parts.long_lane_timeout.to_seconds() + 600)
        ),
    )
    build.add_catch(
        d.other_failure("LongLane", "long_lane_failed"),
        errors=["States.ALL"],
        result_path="$.error",
    )
    return build.next(migrate)

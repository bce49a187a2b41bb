"""The execution's end: ``Summarize`` (the helper: counts, kinds, tolerated percentage) and ``Succeeded?``: the
execution succeeds with the summary as its output, or fails with error ``MigrationFailed`` and the summary as
its cause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

from lambda_fn.contract import FUNCTION_ERROR

if TYPE_CHECKING:
    from alembic_hook_cdk.workflow.definition import Definition


def summarize(d: Definition, *, results: Any = None, written: Any = None) -> sfn.IChainable:
    """``results``: the databases' reports in the state; ``written``: the ResultWriter's details instead."""
    fleet = d.props.fleet
    payload: dict[str, Any] = {
        "action": "summarize",
        "tolerated_failure_percentage": fleet.tolerated_failure_percentage
        if fleet is not None
        else 0,
    }
    if written is not None:
        payload["result_writer"] = written
    else:
        payload["results"] = results
    task = d.invoke(
        "Summarize",
        d.parts.helper,
        payload,
        result_selector=None,
        result_path="$.summary",
        timeout=Duration.minutes(5),
    )
    task.add_catch(
        sfn.Fail(
            d.scope,
            "SummaryFailed",
            error="SummaryFailed",
            cause="The results could not be summarised; each database's result is in the "
            "execution's history (or its Map Run).",
        ),
        errors=["States.ALL"],
        result_path="$.error",
    )
    succeeded = (
        sfn.Choice(d.scope, "Succeeded?")
        .when(
            sfn.Condition.boolean_equals("$.summary.ok", True),
            sfn.Succeed(d.scope, "Migrated", output_path="$.summary"),
        )
        .otherwise(
            sfn.Fail(d.scope, "MigrationFailed", error=FUNCTION_ERROR, cause_path="$.summary.cause")
        )
    )
    return task.next(succeeded)

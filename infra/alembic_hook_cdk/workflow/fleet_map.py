"""Many databases: a Distributed Map runs one database's flow for each target (inline, or read from S3) with
bounded concurrency; its results stay in the state or go to S3 (``ResultWriterV2``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import aws_stepfunctions as sfn

if TYPE_CHECKING:
    from alembic_hook_cdk.workflow.definition import Definition


def target_item(target: Any) -> dict[str, Any]:
    """A ``Target`` as the state machine's item (every optional field present, "" when absent)."""
    return {
        "secret_arn": target.secret_arn,
        "id": target.id or "",
        "host": target.host or "",
        "name": target.name or "",
        "instance": target.instance or "",
        "cluster": target.cluster or "",
    }


def fan_out(d: Definition, flow_start: sfn.IChainable) -> tuple[sfn.IChainable, sfn.DistributedMap]:
    """The fleet's entry (the inline targets, then the map) and the map itself."""
    fleet = d.props.fleet
    assert fleet is not None
    reader = None
    items_path = None
    prologue: sfn.Pass | None = None
    if fleet.targets_object is not None:
        reader = sfn.S3JsonItemReader(
            bucket=fleet.targets_object.bucket, key=fleet.targets_object.key
        )
    else:
        prologue = sfn.Pass(
            d.scope,
            "Targets",
            result=sfn.Result.from_array([target_item(t) for t in fleet.targets]),
            result_path="$.targets",
        )
        items_path = "$.targets"
    writer = (
        sfn.ResultWriterV2(bucket=fleet.results_bucket, prefix=fleet.results_prefix)
        if fleet.results_bucket is not None
        else None
    )
    each = sfn.DistributedMap(
        d.scope,
        "EachDatabase",
        item_reader=reader,
        items_path=items_path,
        item_selector={
            "target": sfn.JsonPath.object_at("$$.Map.Item.Value"),
            "options": sfn.JsonPath.object_at("$.options"),
            "execution": sfn.JsonPath.object_at("$.execution"),
            "settings": sfn.JsonPath.object_at("$.settings"),
        },
        max_concurrency=fleet.max_concurrency,
        # every database reports itself (its failures are caught into its result) and the summary applies
        # the percentage to them; this one counts items whose execution itself broke
        tolerated_failure_percentage=fleet.tolerated_failure_percentage,
        map_execution_type=sfn.StateMachineType.STANDARD,
        result_writer_v2=writer,
        result_path="$.results",
        label="Databases",
    )
    each.item_processor(flow_start)
    each.add_catch(
        sfn.Fail(
            d.scope,
            "FleetFailed",
            error_path="$.error.Error",
            cause="The Distributed Map failed: more databases' executions broke than tolerated, "
            "or it could not read its targets. Its Map Run lists each execution.",
        ),
        errors=["States.ALL"],
        result_path="$.error",
    )
    return (prologue.next(each) if prologue is not None else each), each

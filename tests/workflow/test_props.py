"""What the workflow's props refuse before anything is built: values AWS would reject only at deploy or run time,
and bounds that would mean nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration

from alembic_hook_cdk.workflow.props import (
    FleetOptions,
    LongLaneOptions,
    MigrationWorkflowProps,
    SnapshotOptions,
    Target,
    TargetsObject,
    budget_seconds,
    validate,
)

FUNCTION = Duration.minutes(15)
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:t-AbCdEf"


def _targets(n: int) -> list[Target]:
    return [Target(secret=f"{SECRET}{i}", id=f"t{i}") for i in range(n)]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"budget": Duration.minutes(16)}, "exceeds the function's timeout"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"timeout": Duration.days(8)}, "exceeds"),
        ({"snapshot": SnapshotOptions(instance="a", cluster="b")}, "exactly one"),
        ({"snapshot": SnapshotOptions()}, "exactly one"),
        ({"snapshot": SnapshotOptions(instance="a", keep=0)}, "keep"),
        ({"snapshot": SnapshotOptions(instance="a", prefix="Alembic--hook")}, "prefix"),
        ({"snapshot": SnapshotOptions(instance="a", prefix="a" * 31)}, "prefix"),
        (
            {
                "snapshot": SnapshotOptions(
                    instance="a", poll_interval=Duration.seconds(1), timeout=Duration.hours(2)
                )
            },
            "1,000 polls",
        ),
        ({"fleet": FleetOptions()}, r"inline \(targets\) or in S3"),
        (
            {
                "fleet": FleetOptions(
                    targets=_targets(1), targets_object=TargetsObject(bucket=None, key="k")
                )
            },
            "not both",
        ),
        (
            {"fleet": FleetOptions(targets_object=TargetsObject(bucket=None, key="k"))},
            "secret_prefix or secret_tag",
        ),
        ({"fleet": FleetOptions(targets=_targets(1), secret_prefix="*")}, "without wildcards"),
        ({"fleet": FleetOptions(targets=_targets(201))}, "results_bucket"),
        ({"fleet": FleetOptions(targets=[Target(secret="tenant-a")])}, "complete ARN"),
        (
            {
                "fleet": FleetOptions(
                    targets=[Target(secret=SECRET, id="x"), Target(secret=SECRET, id="x")]
                )
            },
            "unique",
        ),
        ({"fleet": FleetOptions(targets=_targets(2), tolerated_failure_percentage=101)}, "0..100"),
        (
            {"fleet": FleetOptions(targets=_targets(2)), "snapshot": SnapshotOptions(instance="a")},
            "each target names",
        ),
        (
            {"long_lane": LongLaneOptions(statement_timeout=Duration.hours(9))},
            "shorter than long_lane.timeout",
        ),
        ({"long_lane": LongLaneOptions(timeout=Duration.minutes(2))}, "CodeBuild's range"),
    ],
)
def test_refused(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate(MigrationWorkflowProps(**props), function_timeout=FUNCTION)


def test_the_default_budget_leaves_the_function_a_minute() -> None:
    props = MigrationWorkflowProps()
    validate(props, function_timeout=FUNCTION)
    assert budget_seconds(props, FUNCTION) == 14 * 60
    assert SnapshotOptions(instance="a").max_polls == 120  # an hour of 30-second polls

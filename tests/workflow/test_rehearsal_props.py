"""The rehearsal stage's options: what AWS or the stage would reject, refused at synth time."""

from __future__ import annotations

import pytest
from aws_cdk import Duration

from alembic_hook_cdk.workflow.rehearsal import RehearsalOptions, validate_rehearsal

NET = {"subnet_group": "prod-subnets", "security_groups": ["sg-1"]}


def test_a_clone_or_a_restore() -> None:
    validate_rehearsal(RehearsalOptions(cluster="c", **NET), fleet=False, snapshot=False)
    validate_rehearsal(RehearsalOptions(instance="i", **NET), fleet=False, snapshot=True)
    assert RehearsalOptions(cluster="c", **NET).kind == "clone"
    assert RehearsalOptions(instance="i", **NET).kind == "restore"


@pytest.mark.parametrize(
    "options,fleet,snapshot,expected",
    [
        (RehearsalOptions(cluster="c", **NET), True, False, "not a fleet"),
        (RehearsalOptions(**NET), False, False, "exactly one of cluster"),
        (
            RehearsalOptions(cluster="c", instance="i", **NET),
            False,
            False,
            "exactly one of cluster",
        ),
        (RehearsalOptions(instance="i", **NET), False, False, "add SnapshotOptions"),
        (
            RehearsalOptions(cluster="c", subnet_group="", security_groups=[]),
            False,
            False,
            "subnet_group",
        ),
        (RehearsalOptions(cluster="c", prefix="Bad--prefix", **NET), False, False, "prefix"),
        (RehearsalOptions(cluster="c", prefix="a" * 29, **NET), False, False, "prefix"),
        (
            RehearsalOptions(
                cluster="c", poll_interval=Duration.seconds(1), timeout=Duration.hours(2), **NET
            ),
            False,
            False,
            "1,000 polls",
        ),
    ],
)
def test_refusals(options: RehearsalOptions, fleet: bool, snapshot: bool, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        validate_rehearsal(options, fleet=fleet, snapshot=snapshot)

"""The pre-migration snapshot, executed: taken only when revisions are pending, awaited by Wait/Describe (moto's
instant snapshots made to report ``creating`` first), pruned to the newest ``keep`` of the hook's own, its id on
the result and the ledger; a snapshot that fails or never becomes available stops the database before any DDL."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import moto_sfn
from tests.support.database import Database
from tests.support.projects import Rev
from tests.support.workflow_rig import HOOK, Rig, asset_project, workflow_rig
from tests.support.workflow_stacks import SNAPSHOT


def _project(tmp_path: Path) -> Path:
    return asset_project(
        tmp_path,
        [
            Rev("s1", None, "op.execute('CREATE TABLE s1 (id int)')"),
            Rev("s2", "s1", "op.execute('CREATE TABLE s2 (id int)')"),
        ],
    )


def _instance(rig: Rig, identifier: str = "hook-db", **extra: Any) -> None:
    rig.rds.create_db_instance(
        **{
            "DBInstanceIdentifier": identifier,
            "DBInstanceClass": "db.t3.micro",
            "AllocatedStorage": 20,
            "MasterUsername": "admin_user",
            "MasterUserPassword": "not-used-1",
            "Engine": "postgres",
            **extra,
        }
    )


def _expected_id(execution_arn: str, kind: str, source: str) -> str:
    digest = hashlib.md5(
        f"{execution_arn}|{kind}|{source}".encode(), usedforsecurity=False
    ).hexdigest()
    return f"{SNAPSHOT.prefix}-{digest}"


def test_a_snapshot_is_taken_awaited_and_pruned_before_any_ddl(
    db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str
) -> None:
    with workflow_rig(
        one_template, _project(tmp_path), moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        _instance(rig)
        for name in ("alembic-hook-old1", "alembic-hook-old2", "alembic-hook-old3", "team-manual"):
            rig.rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier="hook-db")
        with moto_sfn.delay_snapshots(polls=2) as seen:
            execution = rig.run()
        calls = rig.lambdas.calls(HOOK)
        snapshots = {
            s["DBSnapshotIdentifier"]
            for s in rig.rds.describe_db_snapshots(
                DBInstanceIdentifier="hook-db", SnapshotType="manual"
            )["DBSnapshots"]
        }
        again = rig.run()  # at head now: nothing pending, no snapshot
        after = {
            s["DBSnapshotIdentifier"]
            for s in rig.rds.describe_db_snapshots(
                DBInstanceIdentifier="hook-db", SnapshotType="manual"
            )["DBSnapshots"]
        }
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    snapshot = _expected_id(execution.arn, "instance", "hook-db")
    assert seen == ["creating", "creating", "available"]
    states = execution.states_entered()
    assert states.index("CreateInstanceSnapshot") < states.index("Migrate")
    assert states.count("WaitInstanceSnapshot") == 3
    # the plan asked first (read-only), then every upgrade carried the snapshot's id
    assert [c.payload["command"] for c in calls] == ["status", "upgrade"]
    assert calls[1].payload["snapshot"] == snapshot and calls[1].answer["snapshot"] == snapshot
    # pruned: the newest keep=3 of the hook's own, the team's manual snapshot untouched
    assert snapshot in snapshots and "team-manual" in snapshots
    assert len([s for s in snapshots if s.startswith("alembic-hook-")]) == SNAPSHOT.keep
    assert "alembic-hook-old1" not in snapshots
    ((reference,),) = db.query(
        "SELECT caller_reference->>'snapshot' FROM alembic_hook_runs WHERE status = 'applied'"
    )
    assert reference == snapshot
    (result,) = execution.output["results"]
    assert result["snapshot"] == snapshot and result["status"] == "applied"
    assert again.status == "SUCCEEDED" and again.output["up_to_date"] == 1 and after == snapshots
    assert "CreateInstanceSnapshot" not in again.states_entered()


def test_no_snapshot_when_the_execution_says_so(
    db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str
) -> None:
    with workflow_rig(
        one_template, _project(tmp_path), moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        _instance(rig)
        execution = rig.run({"snapshot": False})
        calls = rig.lambdas.calls(HOOK)
        snapshots = rig.rds.describe_db_snapshots(
            DBInstanceIdentifier="hook-db", SnapshotType="manual"
        )["DBSnapshots"]
    assert execution.status == "SUCCEEDED" and execution.output["applied"] == 1
    assert [c.payload["command"] for c in calls] == ["upgrade"] and calls[0].payload[
        "snapshot"
    ] == ""
    assert snapshots == [] and "Plan" not in execution.states_entered()


def test_an_aurora_member_is_detected_and_its_cluster_snapshotted(
    db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str
) -> None:
    with workflow_rig(
        one_template, _project(tmp_path), moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        rig.rds.create_db_cluster(
            DBClusterIdentifier="hook-cluster",
            Engine="aurora-postgresql",
            MasterUsername="admin_user",
            MasterUserPassword="not-used-1",
        )
        _instance(
            rig,
            DBClusterIdentifier="hook-cluster",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
        execution = rig.run()
        clusters = rig.rds.describe_db_cluster_snapshots(
            DBClusterIdentifier="hook-cluster", SnapshotType="manual"
        )["DBClusterSnapshots"]
        instances = rig.rds.describe_db_snapshots(
            DBInstanceIdentifier="hook-db", SnapshotType="manual"
        )["DBSnapshots"]
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    snapshot = _expected_id(execution.arn, "cluster", "hook-cluster")
    assert [s["DBClusterSnapshotIdentifier"] for s in clusters] == [snapshot]
    # never an instance snapshot of an Aurora member (moto would accept one; AWS refuses)
    assert instances == []
    assert execution.output["results"][0]["snapshot"] == snapshot


@pytest.mark.parametrize("fault", ["missing instance", "never available"])
def test_a_snapshot_that_fails_or_times_out_stops_the_database_before_any_ddl(
    fault: str, db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str
) -> None:
    with workflow_rig(
        one_template, _project(tmp_path), moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        if fault == "never available":
            _instance(rig)
            with moto_sfn.delay_snapshots(polls=1000):
                execution = rig.run()
        else:
            execution = rig.run()  # no instance hook-db: DescribeDBInstances fails
        calls = rig.lambdas.calls(HOOK)
    assert execution.status == "FAILED" and execution.error == "MigrationFailed"
    assert execution.output is None
    (failure,) = json.loads(execution.cause or "{}")["failures"]
    expected = "snapshot_timeout" if fault == "never available" else "snapshot_failed"
    assert failure["kind"] == expected, failure
    # the plan only: no upgrade was invoked
    assert [c.payload["command"] for c in calls] == ["status"]
    assert db.version() == []  # no DDL at all

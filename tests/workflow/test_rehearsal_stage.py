"""The workflow's rehearsal stage, executed: an Aurora copy-on-write clone and its instance made in moto (their
endpoint pointed at a local copy made with CREATE DATABASE ... TEMPLATE), awaited, the hook's real handler
rehearsing against it, and the clone deleted on success, on a refusal by the measurement, and on a failure;
only a rehearsal within policy goes on to the production loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev
from tests.support.workflow_rig import HOOK, Rig, asset_project, workflow_rig
from tests.support.workflow_stacks import REHEARSAL

REVISIONS = [
    Rev(
        "s1",
        None,
        "op.execute('CREATE TABLE s1 (id int)')\n"
        "op.execute('INSERT INTO s1 SELECT generate_series(1, 1000)')",
    ),
    Rev(
        "s2",
        "s1",
        "op.execute('LOCK TABLE s1 IN SHARE MODE')\nop.execute('SELECT pg_sleep(0.3)')\n"
        "op.execute('CREATE TABLE s2 (id int)')",
    ),
]


@pytest.fixture(scope="module")
def rehearsal_template(workflow_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return workflow_templates["WorkflowRehearsal"]


def _login(rig: Rig, arn: str) -> dict[str, Any]:
    return dict(json.loads(rig.secrets.get_secret_value(SecretId=arn)["SecretString"]))


@contextmanager
def _staged(
    db: Database,
    tmp_path: Path,
    template: dict[str, Any],
    moto_endpoint: str,
    *,
    copy: bool = True,
    policy: str = "",
) -> Iterator[Rig]:
    """The target at s1 (a table with rows, made by the hook as the app's login), an Aurora source cluster in
    moto whose instances' endpoint is the local server, and (``copy``) the local copy of the target."""
    asset = asset_project(tmp_path, REVISIONS)
    ini = asset / "migrations" / "alembic.ini"
    if policy:
        ini.write_text(ini.read_text() + f"\n[alembic_hook]\n{policy}\n")
    with (
        workflow_rig(template, asset, moto_endpoint=moto_endpoint, port=db.cluster.port) as rig,
        pytest.MonkeyPatch.context() as patch,
    ):
        from moto.rds.models import DBInstance as MotoInstance

        login = _login(rig, rig.use_hook_secret(db))
        assert run(
            {
                "POSTGRES_HOST": db.cluster.host,
                "POSTGRES_PORT": str(db.cluster.port),
                "POSTGRES_DB": db.name,
                "POSTGRES_USER": login["username"],
                "POSTGRES_PASSWORD": login["password"],
                "ALEMBIC_CONFIG": str(ini),
                "ALEMBIC_SCRIPT_LOCATION": str(asset / "migrations"),
                "DB_SSLMODE": "disable",
            },
            revision="s1",
        ).ok
        rig.rds.create_db_cluster(
            DBClusterIdentifier="hook-cluster",
            Engine="aurora-postgresql",
            MasterUsername="admin_user",
            MasterUserPassword="not-used-1",
        )
        patch.setattr(
            MotoInstance,
            "endpoint",
            property(lambda self: {"Address": db.cluster.host, "Port": db.cluster.port}),
        )
        admin = db.cluster
        import pg8000.native

        from tools.localpg import SUPERUSER_PASSWORD

        conn = pg8000.native.Connection(
            "postgres", password=SUPERUSER_PASSWORD, host=admin.host, port=admin.port
        )
        try:
            conn.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d",
                d=db.name,
            )
            conn.run(f"DROP DATABASE IF EXISTS {REHEARSAL.database_name} WITH (FORCE)")
            if copy:
                conn.run(
                    f"CREATE DATABASE {REHEARSAL.database_name} TEMPLATE {db.name} OWNER {login['username']}"
                )
            yield rig
        finally:
            conn.run(f"DROP DATABASE IF EXISTS {REHEARSAL.database_name} WITH (FORCE)")
            conn.close()


@pytest.fixture(scope="module")
def restore_template(workflow_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return workflow_templates["WorkflowRehearsalRestore"]


def _copies(rig: Rig) -> list[str]:
    clusters = [c["DBClusterIdentifier"] for c in rig.rds.describe_db_clusters()["DBClusters"]]
    instances = [i["DBInstanceIdentifier"] for i in rig.rds.describe_db_instances()["DBInstances"]]
    return [n for n in clusters + instances if n.startswith(REHEARSAL.prefix)]


def _copy_version(db: Database) -> list[str]:
    return [
        str(r[0])
        for r in Database(db.cluster, str(REHEARSAL.database_name)).query(
            "SELECT version_num FROM alembic_version"
        )
    ]


def test_a_rehearsal_within_policy_deletes_the_clone_and_goes_on_to_migrate(
    db: Database, tmp_path: Path, rehearsal_template: dict[str, Any], moto_endpoint: str
) -> None:
    with _staged(db, tmp_path, rehearsal_template, moto_endpoint) as rig:
        execution = rig.run()
        calls = rig.lambdas.calls(HOOK)
        left = _copies(rig)
        rehearsed = _copy_version(db)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    states = execution.states_entered()
    order = [
        "RehearsalPlan",
        "CloneCluster",
        "CreateCopyInstance",
        "WaitCopy",
        "Rehearse",
        "DeleteCopyInstanceSuccess",
        "DeleteCopyClusterSuccess",
        "Migrate",
    ]
    assert [s for s in states if s in order] == order
    assert [c.payload["command"] for c in calls] == ["status", "rehearse", "upgrade"]
    copy = calls[1].payload["copy"]
    assert (
        copy["host"] == db.cluster.host
        and copy["name"] == REHEARSAL.database_name
        and copy["kind"] == "clone"
    )
    assert calls[1].answer["status"] == "ok" and calls[1].answer["rehearsal"]["within_policy"]
    assert left == []  # the clone and its instance are gone
    assert rehearsed == ["s2"] and db.version() == ["s2"]
    ((revisions,),) = db.query(
        "SELECT string_agg(revision, ',' ORDER BY revision) FROM alembic_hook_rehearsals "
        "WHERE target_revision = 's1'"
    )
    assert revisions == "s2"


def test_a_refusal_by_the_measurement_deletes_the_clone_and_applies_nothing(
    db: Database, tmp_path: Path, rehearsal_template: dict[str, Any], moto_endpoint: str
) -> None:
    with _staged(
        db, tmp_path, rehearsal_template, moto_endpoint, policy="rehearsal_max_lock_seconds = 0.05"
    ) as rig:
        execution = rig.run()
        calls = rig.lambdas.calls(HOOK)
        left = _copies(rig)
    assert execution.status == "FAILED" and execution.error == "MigrationFailed"
    (failure,) = json.loads(execution.cause or "{}")["failures"]
    assert failure["kind"] == "unsafe_migration", failure
    assert "blocks writes on public.s1 for" in failure["message"]
    states = execution.states_entered()
    assert "DeleteCopyClusterFailure" in states and "Migrate" not in states
    assert [c.payload["command"] for c in calls] == ["status", "rehearse"]
    assert left == [] and db.version() == ["s1"]


def test_a_rehearsal_that_fails_deletes_the_clone(
    db: Database, tmp_path: Path, rehearsal_template: dict[str, Any], moto_endpoint: str
) -> None:
    with _staged(
        db, tmp_path, rehearsal_template, moto_endpoint, copy=False
    ) as rig:  # the copy's database is missing
        execution = rig.run()
        left = _copies(rig)
    assert execution.status == "FAILED"
    (failure,) = json.loads(execution.cause or "{}")["failures"]
    assert failure["kind"] == "database_missing", failure
    assert (
        "DeleteCopyInstanceFailure" in execution.states_entered()
        and left == []
        and db.version() == ["s1"]
    )


def test_a_clone_that_cannot_be_made_applies_nothing(
    db: Database, tmp_path: Path, rehearsal_template: dict[str, Any], moto_endpoint: str
) -> None:
    with _staged(db, tmp_path, rehearsal_template, moto_endpoint) as rig:
        # no source
        rig.rds.delete_db_cluster(DBClusterIdentifier="hook-cluster", SkipFinalSnapshot=True)
        execution = rig.run()
        left = _copies(rig)
    assert execution.status == "FAILED"
    (failure,) = json.loads(execution.cause or "{}")["failures"]
    assert failure["kind"] == "rehearsal_copy_failed", failure
    assert left == [] and db.version() == ["s1"]


def test_an_rds_instance_is_rehearsed_on_a_restore_of_the_pre_migration_snapshot(
    db: Database, tmp_path: Path, restore_template: dict[str, Any], moto_endpoint: str
) -> None:
    with _staged(db, tmp_path, restore_template, moto_endpoint) as rig:
        import boto3

        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}"
            )["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        rig.rds.create_db_subnet_group(
            DBSubnetGroupName=REHEARSAL.subnet_group,
            SubnetIds=subnets,
            DBSubnetGroupDescription="the source's subnet group",
        )
        rig.rds.create_db_instance(
            DBInstanceIdentifier="hook-db",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="admin_user",
            MasterUserPassword="not-used-1",
            Engine="postgres",
        )
        execution = rig.run()
        calls = rig.lambdas.calls(HOOK)
        left = _copies(rig)
        rehearsed = _copy_version(db)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    order = [
        "CreateInstanceSnapshot",
        "RestoreCopy",
        "WaitCopy",
        "Rehearse",
        "DeleteCopyInstanceSuccess",
        "Migrate",
    ]
    assert [s for s in execution.states_entered() if s in order] == order
    assert [c.payload["command"] for c in calls] == ["status", "status", "rehearse", "upgrade"]
    assert calls[2].payload["copy"]["kind"] == "restore"
    assert left == [] and rehearsed == ["s2"] and db.version() == ["s2"]

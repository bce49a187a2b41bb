"""Many databases, executed: twelve real databases from a targets object in S3, a Distributed Map with at most four
at a time (four runtime processes of the real handler), two of them broken in different ways. Every database
is attempted and reported; the execution succeeds or fails by the tolerated percentage (20 %)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.database import Database, create_database
from tests.support.projects import Rev
from tests.support.workflow_rig import HOOK, asset_project, workflow_rig
from tests.support.workflow_stacks import SECRET_PREFIX, TARGETS_BUCKET, TARGETS_KEY
from tools.localpg import LocalPostgres

FLEET = 12
CONCURRENCY = 4


def test_twelve_databases_four_at_a_time_two_broken(
    pg: LocalPostgres, tmp_path: Path, fleet_template: dict[str, Any], moto_endpoint: str
) -> None:
    # f2 creates a table that the "trapped" database already has: a revision that fails there and nowhere else
    asset = asset_project(
        tmp_path,
        [
            Rev("f1", None, "op.execute('CREATE TABLE f1 (id int)')"),
            Rev("f2", "f1", "op.execute('CREATE TABLE trap (id int)')"),
        ],
    )
    databases = [create_database(pg) for _ in range(FLEET)]
    trapped, unreadable, later = databases[3], databases[7], databases[10]
    trapped.query("CREATE TABLE trap (id int)")
    with workflow_rig(
        fleet_template, asset, moto_endpoint=moto_endpoint, port=pg.port, pool=CONCURRENCY
    ) as rig:
        arns = {}
        for index, db in enumerate(databases):
            # a secret without a password: the database is never reached
            broken = {"password": None} if db is unreadable else {}
            arns[db.name] = rig.secret_for(db, f"{SECRET_PREFIX}t{index:02d}", **broken)
        targets = [
            {"secret_arn": arns[db.name], "id": f"t{i:02d}"} for i, db in enumerate(databases)
        ]
        rig.s3.create_bucket(Bucket=TARGETS_BUCKET)
        rig.s3.put_object(Bucket=TARGETS_BUCKET, Key=TARGETS_KEY, Body=json.dumps(targets).encode())

        first = rig.run({"revision": "head"})
        most_at_once = rig.lambdas.max_active[HOOK]
        # a third failure (its role's password changed, the secret not): 3 of 12 is over the tolerated 20 %
        login = json.loads(rig.secrets.get_secret_value(SecretId=arns[later.name])["SecretString"])
        later.query(f"ALTER ROLE {login['username']} PASSWORD 'not-the-password'")
        second = rig.run({"revision": "head"})

    assert first.status == "SUCCEEDED", json.loads(first.cause or "{}").get("failures")
    summary = first.output
    assert (summary["databases"], summary["applied"], summary["up_to_date"], summary["failed"]) == (
        12,
        10,
        0,
        2,
    )
    kinds = {f["id"]: f["kind"] for f in summary["failures"]}
    assert kinds == {"t03": "migration_failed", "t07": "secret"}
    assert all(f["message"] for f in summary["failures"])
    assert 1 < most_at_once <= CONCURRENCY
    for db in databases:
        expected = {trapped.name: ["f1"], unreadable.name: []}.get(db.name, ["f2"])
        assert db.version() == expected, db.name
    assert _applied_once(databases)

    assert second.status == "FAILED" and second.error == "MigrationFailed"
    cause = json.loads(second.cause or "{}")
    assert (cause["applied"], cause["up_to_date"], cause["failed"], cause["ok"]) == (0, 9, 3, False)
    assert {f["id"]: f["kind"] for f in cause["failures"]} == {**kinds, "t10": "authentication"}


def _applied_once(databases: list[Database]) -> bool:
    for db in databases:
        rows = (
            [r[0] for r in db.query("SELECT revision FROM alembic_hook_revisions ORDER BY id")]
            if db.query("SELECT to_regclass('alembic_hook_revisions') IS NOT NULL")[0][0]
            else []
        )
        if len(rows) != len(set(rows)):
            return False
    return True

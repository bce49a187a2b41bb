"""The budgeted loop, executed: the definition from the synthesized template, moto's interpreter, the real
handler against a real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.database import Database
from tests.support.projects import Rev
from tests.support.workflow_rig import HOOK, asset_project, mark_long, workflow_rig

SLOW = "import time\nop.execute('SELECT 1')\nif not op.get_context().as_sql:\n    time.sleep(0.15)"


def test_thirty_revisions_finish_in_several_iterations_each_applied_once(
    db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str
) -> None:
    ids = [f"p{i:02d}" for i in range(30)]
    asset = asset_project(
        tmp_path, [Rev(rid, ids[i - 1] if i else None, SLOW) for i, rid in enumerate(ids)]
    )
    with workflow_rig(
        one_template, asset, moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        execution = rig.run({"snapshot": False})
        assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
        calls = rig.lambdas.calls(HOOK)
    summary = execution.output
    assert summary["ok"] and summary["applied"] == 1 and summary["failed"] == 0
    (result,) = summary["results"]
    assert (
        result["status"] == "applied"
        and result["to_revision"] == "p29"
        and result["from_revision"] is None
    )
    assert result["applied_count"] == 30
    assert result["iterations"] == len(calls) >= 3  # several budgeted invocations, no retry
    assert [c.payload["partial"] for c in calls] == [True] * len(calls)
    assert [c.answer["status"] for c in calls] == ["partial"] * (len(calls) - 1) + ["applied"]
    assert db.version() == ["p29"]
    rows = db.query("SELECT revision FROM alembic_hook_revisions ORDER BY id")
    assert [r[0] for r in rows] == ids  # each exactly once


def test_a_step_functions_retry_of_a_completed_invocation_changes_nothing(
    db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str
) -> None:
    """Lambda loses the answer of an invocation after it committed its revisions (HTTP 500
    ServiceException): the workflow's Retry invokes again, and the engine (lock, version table, ledger) applies
    nothing twice."""
    ids = [f"p{i:02d}" for i in range(30)]
    asset = asset_project(
        tmp_path, [Rev(rid, ids[i - 1] if i else None, SLOW) for i, rid in enumerate(ids)]
    )
    with workflow_rig(
        one_template, asset, moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        rig.use_hook_secret(db)
        # the first invocation after the loop's start that committed revisions (under load the second may
        # spend its budget before the lock; then a later one is lost)
        rig.lambdas.lose_first_answer(HOOK, lambda n, answer: n >= 2 and bool(answer["applied"]))
        execution = rig.run({"snapshot": False})
        calls = rig.lambdas.calls(HOOK)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    (retried,) = [f for f in execution.failed_tasks() if f["error"] == "Lambda.ServiceException"]
    (at,) = [i for i, call in enumerate(calls) if call.lost]
    assert (
        at >= 1
        and calls[at].answer["status"] in ("partial", "applied")
        and calls[at].answer["applied"]
    )
    # the retry met the revisions the lost invocation committed and went on from there
    committed = [r["revision"] for r in calls[at].answer["applied"]]
    assert calls[at + 1].answer["from_revision"] == committed[-1]
    assert not {r["revision"] for r in calls[at + 1].answer["applied"]} & set(committed)
    (result,) = execution.output["results"]
    # the lost answer is one invocation, not one iteration
    assert result["iterations"] == len(calls) - 1
    # counted from the answers the workflow received
    assert result["applied_count"] == 30 - len(committed)
    rows = db.query("SELECT revision FROM alembic_hook_revisions ORDER BY id")
    assert [r[0] for r in rows] == ids  # each exactly once
    runs = db.query("SELECT status FROM alembic_hook_runs ORDER BY id")
    assert len(runs) == len(calls)  # the lost invocation ran and is on record
    assert retried["cause"]


def test_a_revision_declared_long_runs_in_the_long_lane_with_the_same_cli(
    db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str
) -> None:
    asset = asset_project(
        tmp_path,
        [
            Rev("l1", None, "op.execute('CREATE TABLE a (id int)')"),
            Rev("l2", "l1", "op.execute('CREATE TABLE b (id int)')"),
            Rev("l3", "l2", "op.execute('CREATE TABLE c (id int)')"),
        ],
    )
    mark_long(asset, "l2")
    with workflow_rig(
        one_template, asset, moto_endpoint=moto_endpoint, port=db.cluster.port
    ) as rig:
        secret = rig.use_hook_secret(db)
        execution = rig.run({"snapshot": False})
        calls = rig.lambdas.calls(HOOK)
        (build,) = rig.codebuild.builds.values()
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause, build.output[-2000:])
    assert "RunLongLane" in execution.states_entered()
    assert [c.answer["status"] for c in calls] == ["partial", "applied"]
    assert calls[0].answer["long_revision"] == "l2" and [
        r["revision"] for r in calls[0].answer["applied"]
    ] == ["l1"]
    assert [r["revision"] for r in calls[1].answer["applied"]] == ["l3"]
    # the build: the buildspec from the template, the CLI, the item's secret, the lane's statement timeout
    assert build.status == "SUCCEEDED"
    assert (
        build.overrides["TARGET_REVISION"] == "l2"
        and build.overrides["TARGET_SECRET_ARN"] == secret
    )
    lane_env = rig.codebuild.projects["long-lane"].environment
    assert lane_env["DB_STATEMENT_TIMEOUT_SECONDS"] == "21600"
    assert lane_env["ALEMBIC_CONFIG"] == "migrations/alembic.ini"
    assert '"to_revision": "l2"' in build.output
    runs = db.query(
        "SELECT caller, to_revision FROM alembic_hook_runs WHERE status = 'applied' ORDER BY id"
    )
    assert runs == [["cli", "l2"], ["direct", "l3"]]
    rows = db.query("SELECT revision FROM alembic_hook_revisions ORDER BY id")
    assert [r[0] for r in rows] == ["l1", "l2", "l3"] and db.version() == ["l3"]
    (result,) = execution.output["results"]
    assert (
        result["status"] == "applied"
        and result["to_revision"] == "l3"
        and result["iterations"] == 2
    )

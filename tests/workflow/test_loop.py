"""The budgeted loop, executed: the definition from the synthesized template, moto's interpreter, the real
handler against a real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.database import Database
from tests.support.projects import Rev
from tests.support.workflow_rig import HOOK, asset_project, workflow_rig

SLOW = "import time\nop.execute('SELECT 1')\nif not op.get_context().as_sql:\n    time.sleep(0.15)"


def test_thirty_revisions_finish_in_several_iterations_each_applied_once(
        db: Database, tmp_path: Path, one_template: dict[str, Any], moto_endpoint: str) -> None:
    ids = [f"p{i:02d}" for i in range(30)]
    asset = asset_project(tmp_path, [Rev(rid, ids[i - 1] if i else None, SLOW) for i, rid in enumerate(ids)])
    with workflow_rig(one_template, asset, moto_endpoint=moto_endpoint, port=db.cluster.port) as rig:
        rig.use_hook_secret(db)
        execution = rig.run({"snapshot": False})
        assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
        calls = rig.lambdas.calls(HOOK)
    summary = execution.output
    assert summary["ok"] and summary["applied"] == 1 and summary["failed"] == 0
    (result,) = summary["results"]
    assert result["status"] == "applied" and result["to_revision"] == "p29" and result["from_revision"] is None
    assert result["applied_count"] == 30
    assert result["iterations"] == len(calls) >= 3  # several budgeted invocations, no retry
    assert [c.payload["partial"] for c in calls] == [True] * len(calls)
    assert [c.answer["status"] for c in calls] == ["partial"] * (len(calls) - 1) + ["applied"]
    assert db.version() == ["p29"]
    rows = db.query("SELECT revision FROM alembic_hook_revisions ORDER BY id")
    assert [r[0] for r in rows] == ids  # each exactly once

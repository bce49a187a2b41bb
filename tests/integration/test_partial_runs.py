"""Time-budgeted runs (what the Step Functions workflow calls): an invocation applies revisions while its
budget lasts and ends `partial`, naming what remains; a revision declared long stops it for the long lane."""

from __future__ import annotations

from pathlib import Path

from lambda_fn.cli import build_lint
from lambda_fn.contract import ErrorKind, Status
from lambda_fn.engine.execute import execute
from lambda_fn.request import Command, Request
from lambda_fn.result import Result
from lambda_fn.settings import Settings
from tests.support.database import Database
from tests.support.projects import Rev, write_project

SLOW = "import time\nop.execute('SELECT 1')\nif not op.get_context().as_sql:\n    time.sleep(0.15)"


def iteration(env: dict[str, str], budget: float) -> Result:
    return execute(
        Request(Command.UPGRADE, partial=True, budget_seconds=budget), Settings.from_env(env)
    )


def test_thirty_revisions_finish_in_several_budgeted_iterations_each_applied_once(
    db: Database, tmp_path: Path
) -> None:
    ids = [f"p{i:02d}" for i in range(30)]
    ini = write_project(
        tmp_path, [Rev(rid, ids[i - 1] if i else None, SLOW) for i, rid in enumerate(ids)]
    )
    # a revision needs > max(2 s, this) left
    env = db.env(ALEMBIC_CONFIG=str(ini), DB_LOCK_TIMEOUT_SECONDS="1")
    # as the asset ships it: no squawk at run time
    assert build_lint.main([str(ini), "--write"]) == 0
    applied: list[str] = []
    statuses = []
    for _ in range(30):  # bounded, like the workflow's loop
        result = iteration(env, budget=3.0)
        assert result.ok, result.message
        statuses.append(result.status)
        applied += [r.revision for r in result.applied]
        if result.status is not Status.PARTIAL:
            break
        assert result.pending == ids[len(applied) :] and result.to_revision == applied[-1]
    assert statuses[-1] is Status.APPLIED and len(statuses) >= 3
    assert applied == ids and db.version() == ["p29"]
    rows = db.query("SELECT revision FROM alembic_hook_revisions ORDER BY id")
    assert [r[0] for r in rows] == ids  # each exactly once
    run_statuses = [r[0] for r in db.query("SELECT status FROM alembic_hook_runs ORDER BY id")]
    assert run_statuses == [s.value for s in statuses]
    # a retried iteration changes nothing
    assert iteration(env, budget=3.0).status is Status.UP_TO_DATE


def test_a_revision_declared_long_stops_a_budgeted_run_but_not_a_plain_one(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(tmp_path, [Rev("l1", None), Rev("l2", "l1"), Rev("l3", "l2")])
    long_file = tmp_path / "migrations" / "versions" / "l2.py"
    long_file.write_text(long_file.read_text() + "\nalembic_hook_long = True\n")
    env = db.env(ALEMBIC_CONFIG=str(ini))
    stopped = iteration(env, budget=60)
    assert stopped.status is Status.PARTIAL and stopped.long_revision == "l2"
    assert [r.revision for r in stopped.applied] == ["l1"] and stopped.pending == ["l2", "l3"]
    # the long lane: the same CLI/engine
    plain = execute(Request(Command.UPGRADE), Settings.from_env(env))
    assert plain.status is Status.APPLIED and [r.revision for r in plain.applied] == ["l2", "l3"]


def test_partial_is_for_upgrade_only(db: Database) -> None:
    result = execute(Request(Command.STATUS, partial=True), Settings.from_env(db.env()))
    assert result.error is not None and result.error.kind is ErrorKind.BAD_REQUEST

"""The wire contract is what the runtime really emits: the error type, the statuses, the result's fields."""

from __future__ import annotations

from lambda_fn import contract
from lambda_fn.contract import ErrorKind, Status
from lambda_fn.errors import HookError
from lambda_fn.result import Result
from lambda_fn.sources import direct


def test_the_direct_failure_is_raised_under_the_contracts_error_type() -> None:
    assert direct.MigrationFailed.__name__ == contract.FUNCTION_ERROR


def test_a_result_serialises_to_exactly_the_contracts_fields() -> None:
    failed = Result.failure("upgrade", HookError(ErrorKind.BAD_REVISION, "no such revision", "abc"))
    wire = failed.to_dict()
    assert set(wire) <= set(contract.FIELDS)
    assert set(wire["error"]) <= set(contract.ErrorWire.__annotations__)
    always = {
        k
        for k in contract.FIELDS
        if k
        not in {"error", "history", "sql", "log", "env", "findings", "lint_skipped", "rehearsal"}
    }
    assert always <= set(Result(command="status", status=Status.OK).to_dict())


def test_reached_means_the_target_was_reached() -> None:
    assert {s for s in Status if s in contract.REACHED} == {Status.APPLIED, Status.UP_TO_DATE}


def test_the_rehearsal_report_has_exactly_the_contracts_fields() -> None:
    from lambda_fn.engine.rehearsal.policy import RehearsalPolicy
    from lambda_fn.engine.rehearsal.run import _report

    report = _report(
        RehearsalPolicy(),
        "clone",
        where="copy:5432/app",
        current=("b1",),
        measures=[],
        violations=[],
    )
    assert set(report) == set(contract.RehearsalWire.__annotations__)


def test_the_workflows_summary_has_the_contracts_fields() -> None:
    """What `alembic-hook invoke --workflow` reads (cli/workflow.py) is what the workflow's helper writes."""
    from alembic_hook_cdk.workflow.runtime import helper

    results = [
        {
            "target": {"id": "a"},
            "status": Status.APPLIED.value,
            "from_revision": None,
            "to_revision": "b1",
            "applied_count": 1,
            "iterations": 1,
            "snapshot": None,
        },
        {
            "target": {"id": "b"},
            "status": Status.FAILED.value,
            "error": {"kind": ErrorKind.SECRET.value, "message": "no secret"},
        },
    ]
    summary = helper.summarize({"results": results, "tolerated_failure_percentage": 0})
    assert set(summary) <= set(contract.SummaryWire.__annotations__)
    assert {
        "databases",
        "applied",
        "up_to_date",
        "failed",
        "failures",
        "ok",
        "message",
        "results",
    } <= set(summary)
    assert all(
        set(line) <= set(contract.DatabaseRunWire.__annotations__) for line in summary["results"]
    )
    assert all(set(f) == set(contract.FailureWire.__annotations__) for f in summary["failures"])
    assert [contract.failed(line) for line in summary["results"]] == [False, True]

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
    always = {k for k in contract.FIELDS if k not in
              {"error", "history", "sql", "log", "env", "findings", "lint_skipped", "rehearsal"}}
    assert always <= set(Result(command="status", status=Status.OK).to_dict())


def test_reached_means_the_target_was_reached() -> None:
    assert {s for s in Status if s in contract.REACHED} == {Status.APPLIED, Status.UP_TO_DATE}

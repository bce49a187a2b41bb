"""How one database's flow ends: its report (``Done``, or ``Failed`` with ``$.failure``), and every failure
turned into ``{kind, message}`` on its way there.

A function failure (``MigrationFailed``) carries the engine's result object as its error message: its kind
and message are read from it; any other failure (a timeout, Lambda's service, a snapshot) keeps its error
name as the kind."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from alembic_hook_cdk.workflow.wire import from_result
from lambda_fn.contract import FUNCTION_ERROR, Status


def read_function_failure(
    scope: Construct, ids: tuple[str, str, str], *, label: str | None = None
) -> tuple[sfn.Pass, sfn.Pass]:
    """The chain (first, last) that turns a Catch of the function's failure ({Error, Cause}: the Cause is the
    direct payload, whose errorMessage is the result object) into ``$.failure`` = the engine's {kind,
    message}; with `label`, the message is prefixed "<label>: "."""
    payload_id, result_id, kind_id = ids
    payload = sfn.Pass(
        scope,
        payload_id,
        parameters={
            "payload": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.Cause"))
        },
        result_path="$.error",
    )
    result = sfn.Pass(
        scope,
        result_id,
        parameters={
            "result": sfn.JsonPath.string_to_json(
                sfn.JsonPath.string_at("$.error.payload.errorMessage")
            )
        },
        result_path="$.error",
    )
    message = sfn.JsonPath.string_at("$.error.result.error.message")
    kind = sfn.Pass(
        scope,
        kind_id,
        parameters={
            "kind": sfn.JsonPath.string_at("$.error.result.error.kind"),
            "message": sfn.JsonPath.format(f"{label}: {{}}", message) if label else message,
        },
        result_path="$.failure",
    )
    payload.next(result).next(kind)
    return payload, kind


class Reports:
    """The two ends (``failed``, ``done``) and the Catch target for a function's failure (``function_failure``)."""

    def __init__(self, scope: Construct) -> None:
        self.scope = scope
        self.failed = sfn.Pass(
            scope,
            "Failed",
            parameters={
                "target": sfn.JsonPath.object_at("$.target"),
                "status": Status.FAILED.value,
                "error": sfn.JsonPath.object_at("$.failure"),
                "from_revision": sfn.JsonPath.string_at("$.loop.from_revision"),
                "applied_count": sfn.JsonPath.number_at("$.loop.applied_count"),
                "iterations": sfn.JsonPath.number_at("$.loop.iteration"),
                "snapshot": sfn.JsonPath.string_at("$.snapshot_id"),
            },
        )
        self.done = sfn.Pass(
            scope,
            "Done",
            parameters={
                "target": sfn.JsonPath.object_at("$.target"),
                "status": sfn.JsonPath.string_at(from_result("status")),
                "from_revision": sfn.JsonPath.string_at("$.loop.from_revision"),
                "to_revision": sfn.JsonPath.string_at(from_result("to_revision")),
                "applied_count": sfn.JsonPath.number_at("$.loop.applied_count"),
                "iterations": sfn.JsonPath.number_at("$.loop.iteration"),
                "snapshot": sfn.JsonPath.string_at("$.snapshot_id"),
                "run_id": sfn.JsonPath.number_at(from_result("run_id")),
                "message": sfn.JsonPath.string_at(from_result("message")),
            },
        )
        self.function_failure = self._function_failure()

    def fail_with(self, construct_id: str, kind: str, message: str) -> sfn.Pass:
        """A failure the workflow itself decides (its kind and message), then ``Failed``."""
        state = sfn.Pass(
            self.scope,
            construct_id,
            result=sfn.Result.from_object({"kind": kind, "message": message}),
            result_path="$.failure",
        )
        state.next(self.failed)
        return state

    def other_failure(self, label: str, kind: str | None) -> sfn.Choice:
        """A failure that is not the engine's: its error name (or ``kind``) and its cause when it has one."""
        scope = self.scope
        kind_value = kind if kind is not None else sfn.JsonPath.string_at("$.error.Error")
        with_cause = sfn.Pass(
            scope,
            f"{label}FailureWithCause",
            parameters={
                "kind": kind_value,
                "message": sfn.JsonPath.format(
                    "{}: {}",
                    sfn.JsonPath.string_at("$.error.Error"),
                    sfn.JsonPath.string_at("$.error.Cause"),
                ),
            },
            result_path="$.failure",
        )
        without = sfn.Pass(
            scope,
            f"{label}FailureWithoutCause",
            parameters={"kind": kind_value, "message": sfn.JsonPath.string_at("$.error.Error")},
            result_path="$.failure",
        )
        with_cause.next(self.failed)
        without.next(self.failed)
        return (
            sfn.Choice(scope, f"{label}FailureCause?")
            .when(sfn.Condition.is_present("$.error.Cause"), with_cause)
            .otherwise(without)
        )

    def _function_failure(self) -> sfn.Choice:
        """A Catch's {Error, Cause} as {kind, message}: the engine's own for MigrationFailed (its message is the
        result object), the error name otherwise."""
        parse = self._parse_failure()
        parse.add_catch(
            self.other_failure("UnreadableFailure", None),
            errors=["States.ALL"],
            result_path="$.parse_error",
        )
        parse.next(self.failed)
        return (
            sfn.Choice(self.scope, "FunctionFailure?")
            .when(sfn.Condition.string_equals("$.error.Error", FUNCTION_ERROR), parse)
            .otherwise(self.other_failure("Invoke", None))
        )

    def _parse_failure(self) -> sfn.Parallel:
        """The result object out of the error's cause (the direct payload: errorType, errorMessage = the result).

        A Pass state takes no Catch: the parse runs in a one-branch Parallel, whose Catch keeps the failure (its
        error name and raw cause) should a cause ever not parse (the function bounds it to fit)."""
        scope = self.scope
        payload, _ = read_function_failure(
            scope, ("ReadFailurePayload", "ReadFailureResult", "FailureKind")
        )
        parse = sfn.Parallel(
            scope,
            "ParseFailure",
            result_selector={
                "kind": sfn.JsonPath.string_at("$[0].failure.kind"),
                "message": sfn.JsonPath.string_at("$[0].failure.message"),
            },
            result_path="$.failure",
        )
        parse.branch(payload)
        return parse

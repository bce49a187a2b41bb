"""Direct invocation: `aws lambda invoke`, an SDK, the `alembic-hook invoke` CLI, a CDK Trigger.

    {"command": "upgrade", "revision": "head", "confirm": "downgrade"}   every key optional

`{}` (what a CDK Trigger sends) upgrades to head. `{"no_lint": "<reason>", "confirm": "no-lint"}` upgrades
without the safety gate (the reason is logged and kept in the result); without that confirmation it is
refused. Success returns the result object. Failure raises
`MigrationFailed`, whose message is the result object as JSON: a synchronous caller sees a function error
(`FunctionError: Unhandled`, errorType MigrationFailed), so a script, an SDK or a Trigger cannot mistake a
failed migration for a successful invoke.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from lambda_fn.bounded import fit_result
from lambda_fn.contract import ErrorKind
from lambda_fn.deadline import DIRECT_REPLY_SECONDS
from lambda_fn.errors import HookError
from lambda_fn.request import (
    SKIP_LINT_CONFIRMATION,
    Command,
    CopyDatabase,
    DatabaseOverride,
    Origin,
    Request,
)
from lambda_fn.result import Result
from lambda_fn.sources.base import Execute, LambdaInfo, Outcome

CALLER = "direct"
REPLY_SECONDS = DIRECT_REPLY_SECONDS  # the reply is the return value
# Step Functions carries 32,768 characters of an error's cause (the Lambda error object around this JSON,
# with its type, request id and stack trace) and 256 KiB of a state's data (the result and the state's own)
ERROR_LIMIT = 28_000
RESULT_LIMIT = 200_000
KEYS = (
    "command",
    "revision",
    "confirm",
    "no_lint",
    "limit",
    "partial",
    "budget_seconds",
    "snapshot",
    "database",
    "copy",
)


class MigrationFailed(Exception):
    """Raised to Lambda so the caller gets a function error; the message is the result object as JSON.

    Lambda reports the class name as errorType: it is `contract.FUNCTION_ERROR` (tests/unit/test_contract.py)."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(json.dumps(result, default=str, separators=(",", ":")))
        self.result = result


def matches(event: object) -> bool:
    return True


def correlation_id(event: object) -> str | None:
    return None  # the Lambda request id is the best handle a direct caller has


def handle(event: object, run: Execute, info: LambdaInfo) -> Outcome:
    try:
        request = parse(event)
    except HookError as exc:
        result = Result.failure(_command_name(event), exc)
    else:
        reference = {"lambda_request_id": info.request_id}
        if request.snapshot:
            # the workflow's snapshot, on the ledger's run row
            reference["snapshot"] = request.snapshot
        result = run(replace(request, origin=Origin(CALLER, reference)))
    return render(result)


def render(result: Result) -> Outcome:
    # through JSON once, so the runtime's marshaller never meets a type it cannot encode
    data: dict[str, Any] = json.loads(json.dumps(result.to_dict(), default=str))
    if result.ok:
        return Outcome(result, fit_result(data, RESULT_LIMIT))
    error = fit_error(data)
    return Outcome(result, error, MigrationFailed(error))


def fit_error(data: dict[str, Any]) -> dict[str, Any]:
    """The result for a function error: its JSON, escaped once more inside the Lambda error's JSON (what Step
    Functions hands a Catch as Cause), within ERROR_LIMIT characters."""
    limit = ERROR_LIMIT
    while True:
        fitted = fit_result(data, limit)
        text = json.dumps(fitted, default=str, separators=(",", ":"))
        if len(json.dumps(text)) <= ERROR_LIMIT or limit < 1000:
            return fitted
        limit = int(limit * 0.8)


def parse(event: object) -> Request:
    if event is None:  # an invoke without a payload
        event = {}
    if not isinstance(event, dict):
        raise HookError(
            ErrorKind.BAD_REQUEST,
            f"The payload is a JSON {_json_type(event)}; send an object such as "
            '{"command": "status"} ({} upgrades to head).',
        )
    unknown = sorted(str(k) for k in event if k not in KEYS)
    if unknown:
        # a typo such as "rev" must not silently upgrade to head
        raise HookError(
            ErrorKind.BAD_REQUEST,
            f"Unknown key(s) {', '.join(unknown)[:200]}; the payload takes {', '.join(KEYS)}.",
        )
    raw_command = _text_or_none(event, "command")
    command = Command.parse(raw_command) if raw_command else Command.UPGRADE
    revision = _text_or_none(event, "revision")
    confirm = _text_or_none(event, "confirm")
    skip_lint = _text_or_none(event, "no_lint") if "no_lint" in event else None
    if "no_lint" in event and skip_lint is None:
        skip_lint = ""  # present but empty: refused for want of a reason, never read as "no escape"
    # the confirmation names the command (or the escape), so a copied payload cannot confirm another one
    word = confirm.lower() if confirm is not None else None
    return Request(
        command,
        revision,
        confirmed=word == command.value,
        skip_lint=skip_lint,
        skip_lint_confirmed=word == SKIP_LINT_CONFIRMATION,
        limit=_limit(event),
        copy=_copy(event),
        **_workflow(event),
    )


def _copy(event: dict[Any, Any]) -> CopyDatabase | None:
    """rehearse: {"copy": {"host": ..., "port": ..., "name": ..., "secret_arn": ..., "kind": ...}} (all optional
    but the host or the secret; the secret defaults to the function's own: a clone keeps the source's users)."""
    raw = event.get("copy")
    if raw is None:
        return None
    keys = {"host", "port", "name", "secret_arn", "kind"}
    if not isinstance(raw, dict) or set(raw) - keys:
        raise HookError(
            ErrorKind.BAD_REQUEST,
            '"copy" must be {"host": ..., "port": ..., "name": ..., "secret_arn": '
            '..., "kind": "clone" | "restore" | ...} (the copy of the database to rehearse on).',
        )
    port = raw.get("port")
    if port is not None and (
        isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536
    ):
        raise HookError(ErrorKind.BAD_REQUEST, '"copy": "port" must be a TCP port number.')
    return CopyDatabase(
        secret_arn=_text_or_none(raw, "secret_arn"),
        host=_text_or_none(raw, "host"),
        port=int(port) if port is not None else None,
        name=_text_or_none(raw, "name"),
        kind=_text_or_none(raw, "kind"),
    )


def _workflow(event: dict[Any, Any]) -> dict[str, Any]:
    """The keys a Step Functions workflow sends (see infra/workflow): a time-budgeted run, its snapshot, and
    the database of a fleet's item."""
    partial = event.get("partial", False)
    if not isinstance(partial, bool):
        raise HookError(ErrorKind.BAD_REQUEST, '"partial" must be true or false.')
    budget = event.get("budget_seconds")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0
    ):
        raise HookError(
            ErrorKind.BAD_REQUEST, '"budget_seconds" must be a positive number of seconds.'
        )
    database = event.get("database")
    override = None
    if database is not None:
        if (
            not isinstance(database, dict)
            or not isinstance(database.get("secret_arn"), str)
            or set(database) - {"secret_arn", "host", "name"}
        ):
            raise HookError(
                ErrorKind.BAD_REQUEST,
                '"database" must be {"secret_arn": ..., "host": ..., "name": ...} '
                "(host and name optional).",
            )
        override = DatabaseOverride(
            database["secret_arn"], _text_or_none(database, "host"), _text_or_none(database, "name")
        )
    return {
        "partial": partial,
        "budget_seconds": float(budget) if budget is not None else None,
        "snapshot": _text_or_none(event, "snapshot"),
        "database": override,
    }


def _limit(event: dict[Any, Any]) -> int | None:
    """`log`'s number of runs: a positive integer, as a number or a string."""
    raw = event.get("limit")
    if raw is None:
        return None
    try:
        value = int(raw) if not isinstance(raw, bool) else 0
    except (TypeError, ValueError):
        value = 0
    if not 0 < value <= 1000:
        raise HookError(ErrorKind.BAD_REQUEST, '"limit" must be a number of runs from 1 to 1000.')
    return value


def _text_or_none(event: dict[Any, Any], key: str) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a relative revision such as -1 sent as a number
    if not isinstance(value, str):
        raise HookError(
            ErrorKind.BAD_REQUEST, f'"{key}" must be a string, not a JSON {_json_type(value)}.'
        )
    return value.strip() or None


def _command_name(event: object) -> str:
    raw = event.get("command") if isinstance(event, dict) else None
    return (
        raw.strip().lower()[:40] if isinstance(raw, str) and raw.strip() else Command.UPGRADE.value
    )


def _json_type(value: object) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)

"""`alembic-hook invoke`: run a command in the deployed function, synchronously, exactly once.

The SDK's defaults are a trap here: a 60-second read timeout, after which botocore (and the AWS CLI)
re-sends the Invoke - and a second migration starts while the first is still running. So the read
timeout is longer than the function's own timeout, and there are no retries at all: when no answer
comes, the command says so and leaves the decision to the operator.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lambda_fn.contract import FUNCTION_ERROR, ErrorKind, ResultWire, as_result
from lambda_fn.errors import HookError
from lambda_fn.result import Result

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

MAX_FUNCTION_TIMEOUT = 900  # Lambda's ceiling, used when the function's own timeout cannot be read
READ_MARGIN = 60  # seconds beyond the function's timeout before giving up on the answer
CONNECT_TIMEOUT = 10


def invoke_function(
    function_name: str, payload: dict[str, Any], *, read_margin: float = READ_MARGIN
) -> ResultWire:
    """Invoke, wait for the answer, return the result object. Never raises: a failure to invoke is a
    failed result object too, whose message says what happened and whether the command may have run."""
    command = str(payload.get("command") or "upgrade")
    try:
        import boto3  # boto3 only on this path
        from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

        from lambda_fn.aws.config import bounded_config
    except ImportError as exc:
        return _failed(
            command, ErrorKind.INTERNAL, f"boto3 is needed to invoke the function: {exc}."
        )

    read_timeout = MAX_FUNCTION_TIMEOUT + read_margin
    try:
        timeout = _function_timeout(boto3.client("lambda", config=bounded_config()), function_name)
        read_timeout = timeout + read_margin
        # one attempt: never a second migration
        client = boto3.client(
            "lambda",
            config=bounded_config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=read_timeout,
                retries={"mode": "standard", "total_max_attempts": 1},
            ),
        )
        reply = client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = reply["Payload"].read()
    except ReadTimeoutError:
        return _failed(
            command,
            ErrorKind.DEADLINE,
            f"No answer from {function_name} within {read_timeout:g} s. The "
            "command may still be running or have finished: check the function's logs (and "
            "`alembic-hook invoke --function ... status`) before running it again.",
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        # 4xx: the name, the permission or the payload must change; anything else: Lambda's side, not run
        kind = (
            ErrorKind.CONFIGURATION
            if 400 <= status < 500 and status != 429
            else ErrorKind.UNREACHABLE
        )
        return _failed(
            command,
            kind,
            f"Lambda refused the invoke of {function_name}: "
            f"{error.get('Code', '')}: {error.get('Message', '')}".strip(),
        )
    except BotoCoreError as exc:
        return _failed(
            command,
            ErrorKind.UNREACHABLE,
            f"Could not invoke {function_name}: {type(exc).__name__}: {exc}. Check the region, the "
            "credentials and the network path to Lambda.",
        )
    return _result(command, reply.get("FunctionError"), body)


def _function_timeout(client: LambdaClient, function_name: str) -> float:
    """The function's configured timeout; Lambda's maximum when it cannot be read (e.g. no
    lambda:GetFunctionConfiguration permission), which is always long enough."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return float(client.get_function_configuration(FunctionName=function_name)["Timeout"])
    except (BotoCoreError, ClientError, KeyError, TypeError, ValueError):
        return float(MAX_FUNCTION_TIMEOUT)


def _result(command: str, function_error: str | None, body: bytes) -> ResultWire:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if not function_error:
        if isinstance(data, dict):
            return as_result(data)
        return _failed(
            command,
            ErrorKind.INTERNAL,
            "The function answered with something other than a result object.",
        )
    # a function error: the handler's MigrationFailed carries the result object as its message
    if isinstance(data, dict) and data.get("errorType") == FUNCTION_ERROR:
        try:
            result = json.loads(str(data.get("errorMessage")))
        except ValueError:
            result = None
        if isinstance(result, dict):
            return as_result(result)
    # anything else: a timeout, an out-of-memory, an init failure
    kind = str(data.get("errorType", function_error)) if isinstance(data, dict) else function_error
    message = str(data.get("errorMessage", "")) if isinstance(data, dict) else ""
    return _failed(
        command,
        ErrorKind.INTERNAL,
        f"The function failed ({kind}): {message[:1000]}".rstrip(": ")
        + ". Its logs hold the details; check `status` before running again (a revision cut "
        "short is rolled back, its own transaction).",
    )


def _failed(command: str, kind: ErrorKind, message: str) -> ResultWire:
    """A failure outside the function, as the same result object the function answers with."""
    return as_result(Result.failure(command, HookError(kind, message)).to_dict())

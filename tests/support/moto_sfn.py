"""moto's Step Functions interpreter (``execute_state_machine``) running a definition taken from a synthesized
template, with moto's divergences from AWS worked around here, each one named:

1. **Service-integration casing.** moto's port of the interpreter stubs out the request/response normalisation
   of its service integrations (``StateTaskService._normalise_parameters`` is ``pass``), so ``aws-sdk:rds``
   wants botocore's ``DBInstanceIdentifier`` and answers ``DBSnapshots``, and ``states:startExecution`` and
   ``codebuild:startBuild`` lose their PascalCase parameters. AWS maps SFN casing (``DbInstanceIdentifier``,
   ``DbSnapshots``, ``ProjectName``) to each API's own. ``aws_behaviour()`` restores that mapping with moto's own
   helpers (``_to_boto_request``/``_from_boto_response`` against the botocore model).
2. **Error names.** moto names every ``aws-sdk`` error ``<service>.<service>Exception`` and a ClientError of a
   Lambda task whose Resource is the function's ARN (``payload_response_only``) plain ``Exception``; AWS names
   them ``Rds.DbSnapshotAlreadyExistsException`` and ``Lambda.ServiceException``. Restored likewise.
3. **CodeBuild .sync.** moto forwards ``codebuild:startBuild`` but has no ``.sync`` resolver (and refuses the
   pattern); AWS polls the build until it ends. Here the build is polled with BatchGetBuilds (which
   ``tests/support/codebuild_fake.py`` answers), every 0.2 s.
4. **Integer ToleratedFailurePercentage** does not parse in moto's grammar (it wants a decimal) and tolerance is
   ignored: ``moto_definition`` writes the same number as a decimal. The workflow applies the percentage in its
   own summary step, so the tests prove the outcome there; AWS's Map Run tolerance is not exercised.
5. **Wait really sleeps** (the workflow drives its waits through ``SecondsPath`` settings; tests use 1 s) and
   **RDS snapshots are available at once** (``delay_snapshots`` makes moto's report ``creating`` first).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

ACCOUNT = "123456789012"
REGION = "us-east-1"
EXECUTION_DEADLINE = 240.0  # seconds a test waits for one execution before it calls it hung


# -- the definition, from the template --------------------------------------------------------------------------


def state_machines(template: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::StepFunctions::StateMachine"
    }


PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


def resolve(value: Any, refs: Mapping[str, str], *, symbolic: bool = False) -> Any:
    """CloudFormation's intrinsic functions as a deploy would resolve them: pseudo parameters to the local
    account and region, and each logical id to what ``refs`` says (Ref and GetAtt alike). ``symbolic``: pseudo
    parameters as ``<AWS::Region>`` and a Select of an unresolved Split as ``<Select n>`` (to read a template)."""
    if isinstance(value, list):
        return [resolve(v, refs, symbolic=symbolic) for v in value]
    if not isinstance(value, dict):
        return value
    for name, function in _INTRINSICS.items():
        if name in value:
            return function(
                value[name], lambda v: resolve(v, refs, symbolic=symbolic), refs, symbolic
            )
    return {k: resolve(v, refs, symbolic=symbolic) for k, v in value.items()}


def _ref(name: str, again: Callable[[Any], Any], refs: Mapping[str, str], symbolic: bool) -> Any:
    if name in PSEUDO:
        return f"<{name}>" if symbolic else PSEUDO[name]
    return refs[name]


def _get_att(
    args: list[str], again: Callable[[Any], Any], refs: Mapping[str, str], symbolic: bool
) -> Any:
    logical, attribute = args
    return refs.get(f"{logical}.{attribute}", refs[logical])


def _join(
    args: list[Any], again: Callable[[Any], Any], refs: Mapping[str, str], symbolic: bool
) -> Any:
    separator, parts = args
    return separator.join(str(again(p)) for p in parts)


def _split(
    args: list[Any], again: Callable[[Any], Any], refs: Mapping[str, str], symbolic: bool
) -> Any:
    separator, source = args
    return str(again(source)).split(separator)


def _select(
    args: list[Any], again: Callable[[Any], Any], refs: Mapping[str, str], symbolic: bool
) -> Any:
    index, items = args
    parts = again(items)
    return parts[int(index)] if int(index) < len(parts) or not symbolic else f"<Select {index}>"


def _sub(text: str, again: Callable[[Any], Any], refs: Mapping[str, str], symbolic: bool) -> Any:
    return re.sub(r"\$\{([^}]+)\}", lambda m: str(again({"Ref": m.group(1)})), text)


_INTRINSICS: dict[str, Callable[..., Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Split": _split,
    "Fn::Select": _select,
    "Fn::Sub": _sub,
}


def moto_definition(definition: str) -> str:
    """Divergence 4: the same tolerated percentage, written as a decimal."""
    data = json.loads(definition)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            value = node.get("ToleratedFailurePercentage")
            if isinstance(value, int):
                node["ToleratedFailurePercentage"] = float(value)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(data)
    return json.dumps(data)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


# -- divergences 1-3 and 5 ---------------------------------------------------------------------------------------


def _operation(task: Any, service: str | None, action: str | None) -> Any:
    """The botocore operation model a task's service and action name."""
    import botocore.session
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    wanted = task._get_boto_service_action(action)
    model = botocore.session.get_session().get_service_model(task._get_boto_service_name(service))
    for op in model.operation_names:
        if camel_to_snake_case(op) == wanted:
            return model.operation_model(op)
    return None


def _normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    op = _operation(self, boto_service_name, service_action_name)
    if op is not None and op.input_shape is not None:
        self._to_boto_request(parameters, op.input_shape)


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    op = _operation(self, boto_service_name, service_action_name)
    if op is not None and op.output_shape is not None:
        self._from_boto_response(response, op.output_shape)


def _task_failed(env: Any, error: str, cause: str) -> Any:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(error=error, cause=cause)
        ),
    )


def _sdk_error_name(service: str, code: str) -> str:
    """AWS's name for an aws-sdk task's error: ``Rds.DbSnapshotAlreadyExistsException``."""
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    pretty = {"rds": "Rds", "sfn": "Sfn", "stepfunctions": "Sfn"}.get(service, service.title())
    name = code[:1].upper() + camel_to_snake_case(code).title().replace("_", "")[1:]
    return f"{pretty}.{name}" + ("" if name.endswith("Exception") else "Exception")


def _codebuild_sync(
    self: Any,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: Any,
    state_credentials: Any,
) -> Callable[[], Any]:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    client = boto_client_for(
        region=resource_runtime_part.region,
        service="codebuild",
        state_credentials=state_credentials,
    )
    build_id = env.stack.pop()["Build"]["Id"]

    def poll() -> Any:
        time.sleep(0.2)
        build = client.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildStatus"] == "IN_PROGRESS":
            return None
        if build["buildStatus"] == "SUCCEEDED":
            return {"Build": {"Id": build_id, "BuildStatus": "SUCCEEDED"}}
        cause = json.dumps({"Build": {"Id": build_id, "BuildStatus": build["buildStatus"]}})
        raise FailureEventException(_task_failed(env, "States.TaskFailed", cause))

    return poll


@contextmanager
def aws_behaviour() -> Iterator[None]:
    """Patch moto's interpreter to behave as AWS does for the integrations the workflow uses (1-3)."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
        state_task_service_aws_sdk,
        state_task_service_unsupported,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )

    sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    legacy_lambda = state_task_lambda.StateTaskLambda
    unsupported = state_task_service_unsupported.StateTaskServiceUnsupported
    original_sdk_error, original_lambda_error = sdk._from_error, legacy_lambda._from_error

    def sdk_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            error = _sdk_error_name(self.resource.api_name, ex.response["Error"]["Code"])
            return self._get_task_failure_event(
                env=env, error=error, cause=ex.response["Error"]["Message"]
            )
        return original_sdk_error(self, env, ex)

    def lambda_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            return _task_failed(
                env, f"Lambda.{ex.response['Error']['Code']}", ex.response["Error"]["Message"]
            )
        return original_lambda_error(self, env, ex)

    def pattern_check(self: Any) -> None:
        # the .sync pattern passes moto's check (which admits only task tokens) and gets its task token as usual
        if self.resource.condition not in (
            ResourceCondition.Sync,
            ResourceCondition.WaitForTaskToken,
        ):
            pytest.fail(f"unexpected integration pattern {self.resource.condition}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            state_task_service.StateTaskService, "_normalise_parameters", _normalise_parameters
        )
        patch.setattr(
            state_task_service.StateTaskService, "_normalise_response", _normalise_response
        )
        patch.setattr(sdk, "_from_error", sdk_error)
        patch.setattr(legacy_lambda, "_from_error", lambda_error)
        patch.setattr(unsupported, "_build_sync_resolver", _codebuild_sync)
        patch.setattr(unsupported, "_assert_integration_pattern_is_supported", pattern_check)
        yield


@contextmanager
def delay_snapshots(polls: int) -> Iterator[list[str]]:
    """Divergence 5: moto's snapshots are ``available`` at once; here a snapshot described by its identifier
    reports ``creating`` to its first ``polls`` describes. Yields the statuses those describes answered."""
    from moto.rds.models import RDSBackend

    seen: list[str] = []
    counts: dict[str, int] = {}

    def delayed(original: Callable[..., Any]) -> Callable[..., Any]:
        def describe(self: Any, *args: Any, **kwargs: Any) -> Any:
            snapshots = original(self, *args, **kwargs)
            identifier = kwargs.get("db_snapshot_identifier") or (
                args[1] if len(args) > 1 else None
            )
            if identifier:
                counts[identifier] = counts.get(identifier, 0) + 1
                status = "creating" if counts[identifier] <= polls else "available"
                for snapshot in snapshots:
                    snapshot.status = status
                seen.append(status)
            return snapshots

        return describe

    with pytest.MonkeyPatch.context() as patch:
        for name in ("describe_db_snapshots", "describe_db_cluster_snapshots"):
            patch.setattr(RDSBackend, name, delayed(getattr(RDSBackend, name)))
        yield seen


# -- running an execution ----------------------------------------------------------------------------------------


@dataclass
class Execution:
    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]]

    def states_entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.events
            if "stateEnteredEventDetails" in e
        ]

    def failed_tasks(self) -> list[dict[str, Any]]:
        return [e["taskFailedEventDetails"] for e in self.events if "taskFailedEventDetails" in e]


def run(
    client: Any,
    machine_arn: str,
    payload: Mapping[str, Any],
    *,
    name: str | None = None,
    deadline: float = EXECUTION_DEADLINE,
) -> Execution:
    """Start an execution and wait (polling, bounded) until it ends."""
    # always named: moto names an unnamed execution "None", so a second one would already exist
    started = client.start_execution(
        stateMachineArn=machine_arn,
        input=json.dumps(payload),
        name=name or f"test-{uuid.uuid4().hex}",
    )
    return wait(client, started["executionArn"], deadline=deadline)


def wait(client: Any, execution_arn: str, *, deadline: float = EXECUTION_DEADLINE) -> Execution:
    end = time.monotonic() + deadline
    while True:
        described = client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > end:
            pytest.fail(f"execution {execution_arn} still running after {deadline} s")
        time.sleep(0.05)
    events = client.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    output = json.loads(described["output"]) if described.get("output") else None
    return Execution(
        execution_arn,
        described["status"],
        output,
        described.get("error"),
        described.get("cause"),
        events,
    )

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
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::StepFunctions::StateMachine"}


PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}


def resolve(value: Any, refs: Mapping[str, str], *, symbolic: bool = False) -> Any:
    """CloudFormation's intrinsic functions as a deploy would resolve them: pseudo parameters to the local
    account and region, and each logical id to what ``refs`` says (Ref and GetAtt alike). ``symbolic``: pseudo
    parameters as ``<AWS::Region>`` and a Select of an unresolved Split as ``<Select n>`` (to read a template)."""
    if isinstance(value, list):
        return [resolve(v, refs, symbolic=symbolic) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        name = value["Ref"]
        if name in PSEUDO:
            return f"<{name}>" if symbolic else PSEUDO[name]
        return refs[name]
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return refs.get(f"{logical}.{attribute}", refs[logical])
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(p, refs, symbolic=symbolic)) for p in parts)
    if "Fn::Split" in value:
        separator, source = value["Fn::Split"]
        return str(resolve(source, refs, symbolic=symbolic)).split(separator)
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        parts = resolve(items, refs, symbolic=symbolic)
        return parts[int(index)] if int(index) < len(parts) or not symbolic else f"<Select {index}>"
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(resolve({"Ref": m.group(1)}, refs, symbolic=symbolic)), text)
    return {k: resolve(v, refs, symbolic=symbolic) for k, v in value.items()}


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

@contextmanager
def aws_behaviour() -> Iterator[None]:
    """Patch moto's interpreter to behave as AWS does for the integrations the workflow uses (1-3)."""
    import botocore.session
    from botocore.exceptions import ClientError

    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
        state_task_service_aws_sdk,
        state_task_service_unsupported,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    session = botocore.session.get_session()
    base = state_task_service.StateTaskService

    def operation(task: Any, service: str | None, action: str | None) -> Any:
        name = task._get_boto_service_name(service)
        wanted = task._get_boto_service_action(action)
        model = session.get_service_model(name)
        for op in model.operation_names:
            if camel_to_snake_case(op) == wanted:
                return model.operation_model(op)
        return None

    def normalise_parameters(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        op = operation(self, boto_service_name, service_action_name)
        if op is not None and op.input_shape is not None:
            self._to_boto_request(parameters, op.input_shape)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        op = operation(self, boto_service_name, service_action_name)
        if op is not None and op.output_shape is not None:
            self._from_boto_response(response, op.output_shape)

    def sdk_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            service = {"rds": "Rds", "sfn": "Sfn", "stepfunctions": "Sfn"}.get(self.resource.api_name,
                                                                               self.resource.api_name.title())
            code = ex.response["Error"]["Code"]
            sfn_code = code[:1].upper() + camel_to_snake_case(code).title().replace("_", "")[1:]
            error = f"{service}.{sfn_code}" + ("" if sfn_code.endswith("Exception") else "Exception")
            return self._get_task_failure_event(env=env, error=error, cause=ex.response["Error"]["Message"])
        return original_sdk_error(self, env, ex)

    def lambda_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            error = f"Lambda.{ex.response['Error']['Code']}"
            return FailureEvent(env=env, error_name=CustomErrorName(error), event_type=HistoryEventType.TaskFailed,
                                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                                    error=error, cause=ex.response["Error"]["Message"])))
        return original_lambda_error(self, env, ex)

    def codebuild_sync(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: Any,
                       state_credentials: Any) -> Callable[[], Any]:
        client = boto_client_for(region=resource_runtime_part.region, service="codebuild",
                                 state_credentials=state_credentials)
        build_id = env.stack.pop()["Build"]["Id"]

        def poll() -> Any:
            time.sleep(0.2)
            build = client.batch_get_builds(ids=[build_id])["builds"][0]
            if build["buildStatus"] == "IN_PROGRESS":
                return None
            if build["buildStatus"] == "SUCCEEDED":
                return {"Build": {"Id": build_id, "BuildStatus": "SUCCEEDED"}}
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed, event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error="States.TaskFailed", cause=json.dumps({"Build": {"Id": build_id, "BuildStatus":
                                                                               build["buildStatus"]}})))))

        return poll

    unsupported = state_task_service_unsupported.StateTaskServiceUnsupported
    original_sdk_error = state_task_service_aws_sdk.StateTaskServiceAwsSdk._from_error
    original_lambda_error = state_task_lambda.StateTaskLambda._from_error
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "_normalise_parameters", normalise_parameters)
        patch.setattr(base, "_normalise_response", normalise_response)
        patch.setattr(state_task_service_aws_sdk.StateTaskServiceAwsSdk, "_from_error", sdk_error)
        patch.setattr(state_task_lambda.StateTaskLambda, "_from_error", lambda_error)
        patch.setattr(unsupported, "_build_sync_resolver", codebuild_sync)
        # the .sync pattern passes moto's check (which admits only task tokens) and gets its task token as usual
        patch.setattr(unsupported, "_assert_integration_pattern_is_supported",
                      lambda self: None if self.resource.condition in (ResourceCondition.Sync,
                                                                       ResourceCondition.WaitForTaskToken)
                      else pytest.fail(f"unexpected integration pattern {self.resource.condition}"))
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
            identifier = kwargs.get("db_snapshot_identifier") or (args[1] if len(args) > 1 else None)
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
        return [e["stateEnteredEventDetails"]["name"] for e in self.events if "stateEnteredEventDetails" in e]

    def failed_tasks(self) -> list[dict[str, Any]]:
        return [e["taskFailedEventDetails"] for e in self.events if "taskFailedEventDetails" in e]


def run(client: Any, machine_arn: str, payload: Mapping[str, Any], *, name: str | None = None,
        deadline: float = EXECUTION_DEADLINE) -> Execution:
    """Start an execution and wait (polling, bounded) until it ends."""
    # always named: moto names an unnamed execution "None", so a second one would already exist
    started = client.start_execution(stateMachineArn=machine_arn, input=json.dumps(payload),
                                     name=name or f"test-{uuid.uuid4().hex}")
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
    return Execution(execution_arn, described["status"], output, described.get("error"), described.get("cause"),
                     events)

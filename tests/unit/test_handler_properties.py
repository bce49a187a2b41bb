"""Properties of the in-process handler over arbitrary events of every shape and arbitrary engine results.

- CodePipeline: exactly one job result whenever the event names a job, success exactly when the engine
  ran and succeeded; the function returns normally.
- CloudFormation: exactly one response PUT whenever there is an http(s) ResponseURL, within 4096 bytes,
  SUCCESS exactly for a Delete or a successful run; Delete never runs the engine; returns normally.
- Direct: the result object, or MigrationFailed carrying it; never any other exception.
- The artifact credentials never appear in a log line or a reply.

The engine is replaced by one that answers with a drawn Result (any status, any message, any size); the
reply channels are real: boto3 against the local CodePipeline endpoint, urllib against a local ResponseURL.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_fn import handler as handler_module
from lambda_fn import invocation
from lambda_fn.bounded import encoded_length
from lambda_fn.contract import ErrorKind, Status
from lambda_fn.log import logger
from lambda_fn.request import Command, Request
from lambda_fn.result import ErrorInfo, Result, RevisionRun
from lambda_fn.sources import LambdaInfo, cloudformation, direct
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.events import cloudformation_event, codepipeline_event
from tests.support.inprocess import FakeContext, aws_env
from tests.support.response_recorder import ResponseRecorder

# --- strategies -------------------------------------------------------------------------------------------


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` four times in five: plain one_of would let the odd shapes crowd out the ones that run."""
    return st.integers(0, 4).flatmap(lambda i: odd if i == 0 else usual)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
revisions = st.text(max_size=40)
# messages up to several kilobytes, so every size limit is met (repeating keeps generation cheap)
texts = mostly(
    st.text(max_size=80),
    st.builds(lambda t, n: t * n, st.text(min_size=1, max_size=40), st.integers(2100, 6000)),
)
results = st.builds(
    Result,
    command=st.sampled_from([c.value for c in Command]),
    status=st.sampled_from(Status),
    target=st.none() | revisions,
    from_revision=st.none() | revisions,
    to_revision=st.none() | revisions,
    applied=mostly(
        st.lists(
            st.builds(
                RevisionRun,
                revisions,
                st.text(max_size=100),
                st.sampled_from(["upgrade", "downgrade"]),
                st.floats(0, 1e7),
            ),
            max_size=5,
        ),
        st.lists(
            st.builds(RevisionRun, revisions, st.just("d"), st.just("upgrade"), st.just(1.0)),
            min_size=50,
            max_size=120,
        ),
    ),
    lock_wait_ms=st.floats(0, 1e7),
    duration_ms=st.floats(0, 1e7),
    database=st.none() | st.text(max_size=60),
    message=texts,
    error=st.none()
    | st.builds(ErrorInfo, st.sampled_from(ErrorKind), texts, st.none() | revisions),
)
parameter_values = mostly(
    st.sampled_from(["upgrade", "status", "downgrade", "stamp", "UPGRADE", " head ", ""]), scalars
)
user_parameters = mostly(
    st.none()
    | st.fixed_dictionaries(
        {}, optional={"command": parameter_values, "revision": parameter_values}
    ).map(json.dumps),
    st.text(max_size=60)
    | json_values.map(json.dumps)
    | json_values
    | st.fixed_dictionaries({"other": scalars}, optional={"command": parameter_values}).map(
        json.dumps
    ),
)


@dataclass
class Secrets:
    values: list[str] = field(default_factory=list)

    def new(self, prefix: str) -> str:
        value = f"{prefix}{uuid.uuid4().hex}"
        self.values.append(value)
        return value


@st.composite
def codepipeline_events(draw: st.DrawFn, secrets: Secrets) -> dict[str, Any]:
    shape = draw(st.sampled_from(["job", "job", "job", "mangled-job", "mangled-data"]))
    if shape == "mangled-job":
        return {"CodePipeline.job": draw(json_values)}
    event = codepipeline_event(
        str(uuid.uuid4()),
        None,
        secret_access_key=secrets.new("sak-"),
        session_token=secrets.new("tok-"),
    )
    configuration = event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    parameters = draw(user_parameters)
    if parameters is not None:
        configuration["UserParameters"] = parameters
    if shape == "mangled-data":
        event["CodePipeline.job"]["data"] = draw(json_values)
    return event


@st.composite
def cloudformation_events(draw: st.DrawFn, recorder: ResponseRecorder) -> dict[str, Any]:
    url = draw(
        mostly(
            st.just(recorder.new_url()), st.sampled_from(["http://", "s3://bucket/key"]) | scalars
        )
    )
    request_type = draw(mostly(st.sampled_from(["Create", "Update", "Delete"]), scalars))
    properties = draw(
        mostly(
            st.dictionaries(
                st.sampled_from(["TargetRevision", "MigrationsHash", "ServiceTimeout"]),
                mostly(st.text(max_size=30), scalars),
                max_size=3,
            ),
            json_values,
        )
    )
    event: dict[str, Any] = cloudformation_event(
        "Create", "x", physical_id=draw(st.none() | st.text(max_size=30))
    )
    event.update(RequestType=request_type, ResponseURL=url, ResourceProperties=properties)
    if draw(st.integers(0, 4)) == 0:  # a malformed request
        for key in draw(
            st.lists(
                st.sampled_from(["StackId", "RequestId", "LogicalResourceId", "ResourceProperties"])
            )
        ):
            event.pop(key, None)
        for key, value in draw(
            st.dictionaries(
                st.sampled_from(["StackId", "RequestId", "LogicalResourceId"]), scalars, max_size=2
            )
        ).items():
            event[key] = value
    return event


direct_events = mostly(
    st.fixed_dictionaries(
        {},
        optional={
            "command": parameter_values,
            "revision": parameter_values,
            "confirm": parameter_values,
        },
    ),
    json_values | st.fixed_dictionaries({"typo": scalars}, optional={"command": parameter_values}),
)


# --- the handler with a drawn engine result -----------------------------------------------------------------


@dataclass
class Engine:
    result: Result = field(default_factory=lambda: Result(command="upgrade", status=Status.OK))
    calls: list[Request] = field(default_factory=list)

    def runner(
        self,
        caller: str,
        request_id: str | None,
        remaining: Callable[[], float | None],
        *,
        reply_seconds: float = 0.0,
    ) -> Any:
        assert remaining() == pytest.approx(60.0, abs=1.0)

        def run(request: Request) -> Result:
            self.calls.append(request)
            return self.result

        return run

    def reset(self, result: Result) -> None:
        self.result, self.calls = result, []


@dataclass
class World:
    engine: Engine
    pipeline: CodePipelineRecorder
    responses: ResponseRecorder
    puts: list[tuple[str, bytes]]
    log: io.StringIO
    secrets: Secrets


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    pipeline, responses = CodePipelineRecorder(), ResponseRecorder()
    engine, puts, log = Engine(), [], io.StringIO()
    real_put = cloudformation.put_response
    local = responses.new_url().split("/cfn/")[0]

    def put(url: str, body: bytes, info: LambdaInfo | None = None) -> bool:
        puts.append((url, body))
        # only the local recorder is contacted
        return real_put(url, body, info) if url.startswith(local) else False

    with aws_env(AWS_ENDPOINT_URL_CODEPIPELINE=pipeline.url), pytest.MonkeyPatch.context() as patch:
        patch.setattr(invocation, "Invocation", engine.runner)
        patch.setattr(cloudformation, "put_response", put)
        patch.setattr(logger.registered_handler, "stream", log)
        world = World(engine, pipeline, responses, puts, log, Secrets())
        yield world
        # after every property: no artifact credential in any log line, job result or response
        sent = log.getvalue() + json.dumps(
            {k: [r.params for r in v] for k, v in pipeline.results.items()}
        )
        sent += "".join(body.decode() for _url, body in puts)
        leaked = [value for value in world.secrets.values if value in sent]
        assert not leaked, f"{len(leaked)} artifact credential(s) leaked"
    pipeline.close()
    responses.close()


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def invoke(event: Any) -> tuple[dict[str, Any] | None, direct.MigrationFailed | None]:
    """The handler as Lambda calls it: a return value, or the one exception allowed (direct callers)."""
    try:
        return handler_module.handler(event, FakeContext()), None
    except direct.MigrationFailed as failed:
        return None, failed


# --- properties -------------------------------------------------------------------------------------------


@PROPERTY
@given(data=st.data(), result=results)
def test_codepipeline_jobs_get_exactly_one_result(
    world: World, data: st.DataObject, result: Result
) -> None:
    event = data.draw(codepipeline_events(world.secrets))
    world.engine.reset(result)
    before = sum(len(v) for v in world.pipeline.results.values())
    returned, raised = invoke(event)
    assert raised is None and isinstance(returned, dict)  # always returns: no async retry
    sent = sum(len(v) for v in world.pipeline.results.values()) - before
    job = event.get("CodePipeline.job")
    job_id = job.get("id") if isinstance(job, dict) else None
    if not (isinstance(job_id, str) and job_id.strip()):
        assert sent == 0 and world.engine.calls == []
        return
    error = result.error
    same_job_holds_lock = (
        world.engine.calls
        and error is not None
        and error.kind is ErrorKind.MIGRATION_LOCKED
        and job_id.strip() in error.message
    )
    assert sent == (0 if same_job_holds_lock else 1)
    if sent:
        [last] = world.pipeline.for_job(job_id.strip())[-1:]
        assert last.accepted, last.error  # within every limit the service enforces
        ran_ok = bool(world.engine.calls) and result.ok
        assert last.operation == ("PutJobSuccessResult" if ran_ok else "PutJobFailureResult")
        assert len(world.engine.calls) <= 1
        if ran_ok:
            assert set(last.params["outputVariables"]) == {
                "status",
                "from_revision",
                "to_revision",
                "applied_count",
                "run_id",
            }
            assert all(last.params["outputVariables"].values())
        else:
            assert last.params["failureDetails"]["type"] in ("ConfigurationError", "JobFailed")


@PROPERTY
@given(data=st.data(), result=results)
def test_custom_resource_requests_get_exactly_one_response(
    world: World, data: st.DataObject, result: Result
) -> None:
    event = data.draw(cloudformation_events(world.responses))
    world.engine.reset(result)
    before = len(world.puts)
    returned, raised = invoke(event)
    assert raised is None and isinstance(returned, dict)
    url = event["ResponseURL"]
    if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        assert len(world.puts) == before and world.engine.calls == []
        return
    assert len(world.puts) == before + 1
    _url, body = world.puts[-1]
    assert len(body) <= 4096
    response = json.loads(body)
    assert response["PhysicalResourceId"] and isinstance(response["PhysicalResourceId"], str)
    assert set(response["Data"]) == {
        "FromRevision",
        "ToRevision",
        "AppliedCount",
        "Status",
        "RunId",
    }
    if event["RequestType"] == "Delete":
        assert world.engine.calls == [] and response["Status"] == "SUCCESS"
    else:
        assert len(world.engine.calls) <= 1
        succeeded = bool(world.engine.calls) and result.ok
        assert response["Status"] == ("SUCCESS" if succeeded else "FAILED")
        if not succeeded:
            assert response["Reason"]
    if url.startswith(world.responses.new_url().split("/cfn/")[0]):
        assert world.responses.responses(url)[-1] == response


@PROPERTY
@given(event=direct_events, result=results)
def test_direct_callers_get_the_result_or_a_function_error_carrying_it(
    world: World, event: Any, result: Result
) -> None:
    if isinstance(event, dict) and (
        "CodePipeline.job" in event or {"RequestType", "ResponseURL"} <= set(event)
    ):
        return  # not a direct invocation
    world.engine.reset(result)
    returned, raised = invoke(event)
    if world.engine.calls and result.ok:
        assert raised is None and returned is not None
        assert returned["status"] == result.status.value
        # too large for Step Functions' state: cut from the end, and says so
        if "truncated" in returned:
            assert result.message.startswith(returned["message"].removesuffix("..."))
            assert encoded_length(returned) <= direct.RESULT_LIMIT
        else:
            assert returned["message"] == result.message
    else:
        assert returned is None and raised is not None
        carried = json.loads(str(raised))
        assert carried["status"] == "failed" and carried["message"] is not None
        if not world.engine.calls:
            assert carried["error"]["kind"] == "bad_request"

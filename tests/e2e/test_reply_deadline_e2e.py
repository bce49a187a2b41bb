"""A reply that hangs once near the deadline is still delivered before the invocation ends (issue 18,
point 3), through the real runtime client: the engine waits on a held migration lock until its deadline,
the first PUT (CloudFormation) or PutJob*Result call (CodePipeline) hangs, and the retry, bounded by the
time left, lands before Lambda would have killed the function.

The deadline compared against is the invocation's own (the Runtime API hands the function the same
deadline): the arrival of the answer at the caller's endpoint before it is the contract, not a budget."""

from __future__ import annotations

import time
import uuid

import pg8000.native

from lambda_fn.postgres.lock import lock_key
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.events import cloudformation_event, codepipeline_event
from tests.support.lambda_runtime import StartFunction
from tests.support.moto_secrets import DbLogin
from tests.support.response_recorder import ResponseRecorder

TIMEOUT_MS = 20_000  # the function's timeout: the engine waits on the lock until the margin


def hold_lock(login: DbLogin) -> pg8000.native.Connection:
    db = login.db
    conn = pg8000.native.Connection(
        login.username,
        password=login.password,
        host=db.cluster.host,
        port=db.cluster.port,
        database=db.name,
        application_name="another-runner",
    )
    assert conn.run("SELECT pg_try_advisory_lock(:key)", key=lock_key("alembic_version"))[0][0]
    return conn


def test_a_cloudformation_response_that_hangs_once_is_retried_in_time(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder
) -> None:
    fn = start_function(login, MIGRATION_LOCK_WAIT_SECONDS="600")
    holder = hold_lock(login)
    try:
        url = cfn.new_url()
        hung, arrived = cfn.hung, len(cfn.arrivals)
        cfn.hang_once()
        # no later than the Runtime API's deadline (set after this)
        ends = time.time() + TIMEOUT_MS / 1000
        reply = fn.invoke(cloudformation_event("Create", url), timeout_ms=TIMEOUT_MS)
        assert reply.kind == "response", reply
        assert cfn.hung == hung + 1  # the first PUT hung
        [response] = cfn.responses(url)  # the retry delivered it
        assert response["Status"] == "FAILED" and "[migration_locked]" in response["Reason"], (
            response
        )
        answered = cfn.arrivals[arrived]
        assert answered < ends, f"answered {answered - ends:+.1f} s after the invocation's end"
        print(f"cloudformation: answered {ends - answered:.1f} s before the invocation's end")
    finally:
        holder.close()
    assert login.db.version() == []  # the lock was never ours: nothing ran


def test_a_codepipeline_result_that_hangs_once_is_retried_in_time(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    fn = start_function(login, MIGRATION_LOCK_WAIT_SECONDS="600")
    holder = hold_lock(login)
    try:
        job_id = str(uuid.uuid4())
        pipeline.hang_once()
        ends = time.time() + TIMEOUT_MS / 1000
        reply = fn.invoke(codepipeline_event(job_id), timeout_ms=TIMEOUT_MS)
        assert reply.kind == "response", reply
        assert pipeline.hung == 1
        [result] = pipeline.for_job(job_id)
        assert result.operation == "PutJobFailureResult" and result.accepted
        assert "[migration_locked]" in result.params["failureDetails"]["message"]
        answered = pipeline.arrivals[-1]
        assert answered < ends, f"answered {answered - ends:+.1f} s after the invocation's end"
        print(f"codepipeline: answered {ends - answered:.1f} s before the invocation's end")
    finally:
        holder.close()
    assert login.db.version() == []

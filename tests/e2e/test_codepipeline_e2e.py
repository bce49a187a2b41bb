"""CodePipeline invoke action through the real runtime client: exactly one job result, the function
always returns normally, the artifact credentials never surface."""

from __future__ import annotations

import json
import uuid

import pg8000.native

from lambda_fn.postgres.lock import lock_key
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.events import codepipeline_event
from tests.support.lambda_runtime import StartFunction
from tests.support.moto_secrets import DbLogin

HEAD = "0005_recommendations"
ARTIFACT_SECRET = "artifactSecret/" + uuid.uuid4().hex
ARTIFACT_TOKEN = "artifactSessionToken+" + uuid.uuid4().hex
SENSITIVE = (
    ARTIFACT_SECRET,
    ARTIFACT_TOKEN,
    ARTIFACT_SECRET.split("/")[1],
    ARTIFACT_TOKEN.split("+")[1],
)


def job(user_parameters: str | None = None) -> tuple[str, dict[str, object]]:
    job_id = str(uuid.uuid4())
    return job_id, codepipeline_event(
        job_id, user_parameters, secret_access_key=ARTIFACT_SECRET, session_token=ARTIFACT_TOKEN
    )


def test_success_reports_summary_and_output_variables_and_a_redelivery_is_harmless(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    fn = start_function(login, sensitive=SENSITIVE)
    job_id, event = job()
    reply = fn.invoke(event)
    assert reply.kind == "response", reply  # returned normally: no async retry
    [result] = pipeline.for_job(job_id)
    assert result.operation == "PutJobSuccessResult" and result.accepted
    assert result.params["outputVariables"] == {
        "status": "applied",
        "from_revision": "base",
        "to_revision": HEAD,
        "applied_count": "5",
        "run_id": "1",
    }
    assert login.db.query(
        "SELECT caller, caller_reference->>'job_id', status FROM alembic_hook_runs"
    ) == [["codepipeline", job_id, "applied"]]  # the pipeline's job leads to its ledger row
    summary = result.params["executionDetails"]["summary"]
    assert (
        summary.startswith(f"Applied 5 revision(s), base -> {HEAD}, in ")
        and "0003_intents (" in summary
    )
    assert result.params["executionDetails"]["externalExecutionId"] == reply.request_id
    assert login.db.version() == [HEAD]

    # Lambda delivers asynchronous events at least once: the same job again
    again = fn.invoke(event)
    assert again.kind == "response", again
    _first, second = pipeline.for_job(job_id)
    assert second.operation == "PutJobSuccessResult" and second.error == "InvalidJobStateException"
    # found the work done: no second migration
    assert second.params["outputVariables"]["applied_count"] == "0"
    assert fn.records("The job is already answered or gone; nothing more to report")
    finished = fn.records("Invocation finished")
    assert [r["correlation_id"] for r in finished] == [job_id, job_id]
    assert all(m["caller"] == "codepipeline" for m in fn.metrics())


def test_status_command_reports_pending_revisions(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    fn = start_function(login)
    job_id, event = job(json.dumps({"command": "status"}))
    fn.invoke(event)
    [result] = pipeline.for_job(job_id)
    assert result.operation == "PutJobSuccessResult"
    assert result.params["outputVariables"]["status"] == "pending"
    assert login.db.version() == []


def test_target_revision_from_user_parameters(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    fn = start_function(login)
    job_id, event = job(json.dumps({"revision": "0002_messages"}))
    fn.invoke(event)
    [result] = pipeline.for_job(job_id)
    assert result.params["outputVariables"]["to_revision"] == "0002_messages"
    assert login.db.version() == ["0002_messages"]


def test_migration_failure_is_job_failed_naming_the_revision(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    # the database already has a table the third revision creates: that revision fails, the two before stay
    login.db.query(
        f"CREATE TABLE query_intents (id int); ALTER TABLE query_intents OWNER TO {login.username}"
    )
    fn = start_function(login, sensitive=SENSITIVE)
    job_id, event = job()
    reply = fn.invoke(event)
    assert reply.kind == "response", reply
    [result] = pipeline.for_job(job_id)
    assert result.operation == "PutJobFailureResult"
    details = result.params["failureDetails"]
    assert details["type"] == "JobFailed"
    message = details["message"]
    assert message.startswith(
        "Migration upgrade failed [migration_failed] at revision 0003_intents:"
    )
    assert "query_intents" in message and "The database is at 0002_messages." in message
    assert "Run again" in message or "run again" in message
    assert len(message) <= 5000
    assert login.db.version() == ["0002_messages"]
    assert [m["Failures"] for m in fn.metrics()] == [[1.0]]


def test_bad_user_parameters_are_a_configuration_error_and_touch_nothing(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    fn = start_function(login)
    cases = {
        "{revision: head}": "not valid JSON",
        '["head"]': "JSON object",
        '{"target": "head"}': "unknown key(s) target",
        '{"command": "downgrade", "revision": "base"}': "only upgrade or status",
        '{"command": "status", "revision": 5}': '"revision" must be a string',
    }
    for parameters, expected in cases.items():
        job_id, event = job(parameters)
        assert fn.invoke(event).kind == "response"
        [result] = pipeline.for_job(job_id)
        assert result.operation == "PutJobFailureResult", parameters
        assert result.params["failureDetails"]["type"] == "ConfigurationError"
        assert expected in result.params["failureDetails"]["message"], (parameters, result.params)
    assert login.db.version() == []


def test_bad_settings_and_missing_secret_are_configuration_errors(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    fn = start_function(login, DB_LOCK_TIMEOUT_SECONDS="soon")
    job_id, event = job()
    fn.invoke(event)
    [result] = pipeline.for_job(job_id)
    assert result.params["failureDetails"]["type"] == "ConfigurationError"
    assert "DB_LOCK_TIMEOUT_SECONDS" in result.params["failureDetails"]["message"]

    fn = start_function(
        login, DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf"
    )
    job_id, event = job()
    fn.invoke(event)
    [result] = pipeline.for_job(job_id)
    assert result.params["failureDetails"]["type"] == "ConfigurationError"
    assert "gone" in result.params["failureDetails"]["message"]


def test_unreachable_database_is_job_failed(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    from tools.localpg import free_port

    fn = start_function(login, DB_PORT=str(free_port()), DB_WAIT_SECONDS="1")
    job_id, event = job()
    fn.invoke(event)
    [result] = pipeline.for_job(job_id)
    # may pass on a re-run: not configuration
    assert result.params["failureDetails"]["type"] == "JobFailed"
    assert "[unreachable]" in result.params["failureDetails"]["message"]


def test_a_delivery_that_finds_its_own_job_holding_the_lock_stays_silent(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder
) -> None:
    """Two concurrent deliveries of one job: the one that waits must not fail the job the other is running."""
    job_id, event = job()
    holder = _hold_lock(login, application_name=f"alembic-hook/codepipeline/{job_id}")
    try:
        fn = start_function(login, MIGRATION_LOCK_WAIT_SECONDS="1")
        assert fn.invoke(event).kind == "response"
        assert pipeline.for_job(job_id) == []  # the holder reports, not this delivery
        assert fn.records(
            "Another delivery of this job holds the migration lock; it reports the result"
        )

        # a different job finding the lock held is told so
        other_id, other = job()
        fn.invoke(other)
        [result] = pipeline.for_job(other_id)
        assert result.operation == "PutJobFailureResult"
        assert "[migration_locked]" in result.params["failureDetails"]["message"]
        assert job_id in result.params["failureDetails"]["message"]  # names the holder
    finally:
        holder.close()


def test_no_route_to_codepipeline_is_logged_and_the_function_still_returns(
    login: DbLogin, start_function: StartFunction
) -> None:
    from tools.localpg import free_port

    fn = start_function(login, AWS_ENDPOINT_URL_CODEPIPELINE=f"http://127.0.0.1:{free_port()}")
    _job_id, event = job()
    reply = fn.invoke(event)
    assert reply.kind == "response"
    assert fn.records(
        "Could not reach CodePipeline to report the job result; check the VPC has a route to the "
        "codepipeline endpoint (NAT or interface endpoint)"
    )
    assert [m["ReplyFailures"] for m in fn.metrics()] == [[1.0]]


def _hold_lock(login: DbLogin, *, application_name: str) -> pg8000.native.Connection:
    """The lock as another delivery of the function holds it: same role, its own application_name."""
    db = login.db
    conn = pg8000.native.Connection(
        login.username,
        password=login.password,
        host=db.cluster.host,
        port=db.cluster.port,
        database=db.name,
        application_name=application_name,
    )
    assert conn.run("SELECT pg_try_advisory_lock(:key)", key=lock_key("alembic_version"))[0][0]
    return conn

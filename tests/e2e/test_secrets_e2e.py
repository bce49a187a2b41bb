"""No secret value in anything the function writes or answers, even with every logger at DEBUG.

The fixture's teardown checks the process output, the replies, the job results and the CloudFormation
responses for the database password and the artifact credentials; this test turns logging all the way up
(botocore at DEBUG prints response bodies, and a GetSecretValue response holds the password).
"""

from __future__ import annotations

import json
import uuid

from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.events import cloudformation_event, codepipeline_event
from tests.support.lambda_runtime import StartFunction
from tests.support.moto_secrets import DbLogin
from tests.support.response_recorder import ResponseRecorder


def test_debug_logging_leaks_no_secret(
    login: DbLogin,
    start_function: StartFunction,
    pipeline: CodePipelineRecorder,
    cfn: ResponseRecorder,
) -> None:
    secret_part, token_part = uuid.uuid4().hex, uuid.uuid4().hex
    artifact_secret, artifact_token = f"aSecret/{secret_part}", f"aToken+{token_part}"
    fn = start_function(
        login,
        sensitive=(artifact_secret, artifact_token, secret_part, token_part),
        AWS_LAMBDA_LOG_LEVEL="DEBUG",
        POWERTOOLS_LOG_LEVEL="DEBUG",
    )
    job_id = str(uuid.uuid4())
    event = codepipeline_event(
        job_id,
        json.dumps({"revision": "0002_messages"}),
        secret_access_key=artifact_secret,
        session_token=artifact_token,
    )
    assert fn.invoke(event).kind == "response"
    assert pipeline.for_job(job_id)[0].operation == "PutJobSuccessResult"
    url = cfn.new_url()
    assert fn.invoke(cloudformation_event("Create", url)).kind == "response"
    assert cfn.responses(url)[0]["Status"] == "SUCCESS"
    failed = fn.invoke({"command": "downgrade", "revision": "base"})
    assert failed.kind == "error"
    assert "DEBUG" in fn.output  # the levels took effect: there is something to leak into
    # the presigned ResponseURL's signature is a credential for the response too
    assert url.split("X-Amz-Signature=")[1].split("&")[0] not in fn.output

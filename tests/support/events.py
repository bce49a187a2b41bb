"""Events as the services send them to the function: a CodePipeline job, a CloudFormation custom resource
request."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.lambda_runtime import FUNCTION_ARN, FUNCTION_NAME


def codepipeline_event(
    job_id: str,
    user_parameters: str | None = None,
    *,
    secret_access_key: str | None = None,
    session_token: str | None = None,
) -> dict[str, Any]:
    configuration: dict[str, Any] = {"FunctionName": FUNCTION_NAME}
    if user_parameters is not None:
        configuration["UserParameters"] = user_parameters
    artifact = {
        "name": "SourceArtifact",
        "revision": "1a2b3c",
        "location": {
            "type": "S3",
            "s3Location": {"bucketName": "artifacts", "objectKey": "src.zip"},
        },
    }
    return {
        "CodePipeline.job": {
            "id": job_id,
            "accountId": "123456789012",
            "data": {
                "actionConfiguration": {"configuration": configuration},
                "inputArtifacts": [artifact],
                "outputArtifacts": [],
                "artifactCredentials": {
                    "accessKeyId": "ASIAARTIFACTKEY",
                    "secretAccessKey": secret_access_key or uuid.uuid4().hex,
                    "sessionToken": session_token or uuid.uuid4().hex,
                    "expirationTime": 1795310689000,
                },
            },
        }
    }


def cloudformation_event(
    request_type: str,
    response_url: str,
    *,
    properties: dict[str, str] | None = None,
    old_properties: dict[str, str] | None = None,
    physical_id: str | None = None,
) -> dict[str, Any]:
    props = {"ServiceToken": FUNCTION_ARN, **(properties or {})}
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/app/6c2ad3a0-0000-11f0-0000-0a1b2c3d4e5f",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "RunMigrations",
        "ResourceType": "Custom::DbMigrations",
        "ResourceProperties": props,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {"ServiceToken": FUNCTION_ARN, **old_properties}
    return event

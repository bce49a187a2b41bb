"""The handler in this process, with its AWS clients pointed at the local reply endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from lambda_fn.sources import codepipeline

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@contextmanager
def aws_env(**extra: str) -> Iterator[None]:
    """Fake credentials and endpoints; the cached CodePipeline client is rebuilt inside and after."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**FAKE_AWS, **extra}.items():
            patch.setenv(key, value)
        codepipeline._client.cache_clear()
        try:
            yield
        finally:
            codepipeline._client.cache_clear()


@dataclass
class FakeContext:
    """The attributes of awslambdaric's LambdaContext that the handler reads."""

    remaining_ms: int = 60_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "alembic-hook"
    memory_limit_in_mb: str = "512"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:alembic-hook"
    log_group_name: str = "/aws/lambda/alembic-hook"
    log_stream_name: str = "2026/11/22/[$LATEST]unit"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

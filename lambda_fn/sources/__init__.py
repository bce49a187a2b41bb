"""The function's callers, one module each: event -> Request, Result -> that caller's reply.

A source knows its caller's event shape and reply channel, and nothing of Alembic or of the database: it
hands a `Request` to the `Execute` it is given and renders the `Result` it gets back. Every outcome,
including a request too malformed to run, is a `Result`, so each caller sees one kind of answer.
"""

from __future__ import annotations

from typing import Protocol

from lambda_fn.sources import cloudformation as cloudformation
from lambda_fn.sources import codepipeline as codepipeline
from lambda_fn.sources import direct as direct
from lambda_fn.sources.base import Execute, LambdaInfo, Outcome


class Source(Protocol):
    CALLER: str
    REPLY_SECONDS: (
        float  # the longest this caller's reply takes, bounded retries included (deadline.py)
    )

    def matches(self, event: object) -> bool: ...

    def correlation_id(self, event: object) -> str | None: ...

    def handle(self, event: object, run: Execute, info: LambdaInfo) -> Outcome: ...


def identify(event: object) -> Source:
    """CodePipeline and CloudFormation by their event shape; anything else is a direct invocation."""
    if codepipeline.matches(event):
        return codepipeline
    if cloudformation.matches(event):
        return cloudformation
    return direct


__all__ = [
    "Execute",
    "LambdaInfo",
    "Outcome",
    "Source",
    "cloudformation",
    "codepipeline",
    "direct",
    "identify",
]

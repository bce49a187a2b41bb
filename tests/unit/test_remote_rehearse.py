"""`alembic-hook invoke --function NAME rehearse ...`: the copy goes to the function as the direct event's
"copy" object (lambda_fn/sources/direct.py), and never with a password in it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lambda_fn.cli import main as cli
from lambda_fn.sources.direct import parse
from tests.support.inprocess import aws_env
from tests.support.lambda_endpoint import FakeLambda

MEASURED = {
    "command": "rehearse",
    "status": "ok",
    "message": "rehearsed 1 revision(s)",
    "applied": [],
    "rehearsal": {
        "copy": "app@copy.internal:5433/app",
        "kind": "clone",
        "target_revision": "0003",
        "policy": {"max_lock_seconds": 3.0},
        "within_policy": True,
        "violations": [],
        "revisions": [
            {
                "revision": "0004",
                "description": "d",
                "sha256": "x",
                "duration_s": 0.5,
                "statements": [{"index": 0, "sql": "ALTER TABLE t ADD c int", "duration_s": 0.01}],
                "locks": [
                    {
                        "table": "public.t",
                        "mode": "AccessExclusiveLock",
                        "statement": 0,
                        "acquired_s": 0.0,
                        "held_s": 0.02,
                        "created": False,
                        "rows": True,
                    }
                ],
                "row_locks": [],
                "rewritten": [],
                "growth_bytes": 0,
            }
        ],
    },
}


@pytest.fixture
def fake() -> Iterator[FakeLambda]:
    server = FakeLambda()
    with aws_env(AWS_ENDPOINT_URL_LAMBDA=server.url):
        yield server
    server.close()


def test_the_copy_endpoint_and_secret_are_sent_as_the_copy_object(
    fake: FakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.body = MEASURED
    assert (
        cli.main(
            [
                "invoke",
                "--function",
                "fn",
                "rehearse",
                "0004",
                "--on-host",
                "copy.internal",
                "--on-port",
                "5433",
                "--on-name",
                "app",
                "--on-secret-id",
                "arn:aws:secretsmanager:copy",
                "--copy-kind",
                "clone",
            ]
        )
        == 0
    )
    payload = fake.invocations[-1]["payload"]
    assert payload == {
        "command": "rehearse",
        "revision": "0004",
        "copy": {
            "host": "copy.internal",
            "port": 5433,
            "name": "app",
            "secret_arn": "arn:aws:secretsmanager:copy",
            "kind": "clone",
        },
    }
    # the function reads exactly that object
    request = parse(payload)
    assert (
        request.copy is not None
        and (request.copy.host, request.copy.port, request.copy.name)
        == ("copy.internal", 5433, "app")
        and request.copy.url is None
    )
    out = capsys.readouterr().out
    # the rehearsal's own table
    assert "ACCESS EXCLUSIVE public.t 0.02 s (blocks reads and writes)" in out


def test_a_url_without_password_gives_the_endpoint(
    fake: FakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.body = MEASURED
    assert (
        cli.main(
            [
                "--json",
                "invoke",
                "--function",
                "fn",
                "rehearse",
                "--on",
                "postgresql://copy.internal:5433/app?sslmode=verify-full",
            ]
        )
        == 0
    )
    assert fake.invocations[-1]["payload"] == {
        "command": "rehearse",
        "copy": {"host": "copy.internal", "port": 5433, "name": "app"},
    }
    assert json.loads(capsys.readouterr().out) == MEASURED


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:S3cret-pw@copy.internal/app",
        "postgresql://copy.internal/app?user=app&password=S3cret-pw",
    ],
)
def test_a_url_with_a_password_is_refused_and_nothing_is_sent(
    fake: FakeLambda, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["invoke", "--function", "fn", "rehearse", "--on", url]) == 2
    assert fake.invocations == []
    err = capsys.readouterr().err
    assert "--on holds a password" in err and "--on-secret-id" in err and "Nothing was sent" in err
    assert "S3cret-pw" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rehearse"], "invoke ... rehearse needs the copy"),
        (["rehearse", "--on-name", "app"], "invoke ... rehearse needs the copy"),
        (["status", "--on-host", "copy.internal"], "go with rehearse"),
        (["rehearse", "--on", "postgresql://:5432/app"], "--on needs the copy's host"),
        (["rehearse", "--on", "postgresql://copy.internal:99999/app"], "--on is not a valid URL"),
    ],
)
def test_bad_copy_arguments_are_usage_errors(
    fake: FakeLambda, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["invoke", "--function", "fn", *args]) == 2
    assert fake.invocations == []
    assert message in capsys.readouterr().err


def test_the_workflow_takes_no_copy(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(
            [
                "invoke",
                "--workflow",
                "arn:aws:states:us-east-1:1:stateMachine:m",
                "upgrade",
                "--on-host",
                "copy.internal",
            ]
        )
        == 2
    )
    assert "the workflow only upgrades" in capsys.readouterr().err


def test_a_refusal_by_the_measurement_exits_1_with_its_numbers(
    fake: FakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = {
        **MEASURED,
        "status": "failed",
        "message": "Rehearsed 1 revision(s): 1 beyond policy in 0004",
        "error": {"kind": "unsafe_migration", "message": "beyond policy"},
    }
    fake.function_error = "Unhandled"
    fake.body = {"errorType": "MigrationFailed", "errorMessage": json.dumps(refused)}
    assert cli.main(["invoke", "--function", "fn", "rehearse", "--on-host", "copy.internal"]) == 1
    assert "failed: Rehearsed 1 revision(s): 1 beyond policy in 0004" in capsys.readouterr().out

"""The handler in process: routing, the engine glue (deadline, application_name, settings), telemetry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from lambda_fn import invocation, telemetry
from lambda_fn.contract import ErrorKind, Status
from lambda_fn.deadline import Deadline
from lambda_fn.request import Command, Request
from lambda_fn.sources import cloudformation, codepipeline, direct, identify
from tests.support.events import cloudformation_event, codepipeline_event
from tests.support.paths import REPO


@pytest.mark.parametrize(
    "event,source",
    [
        (codepipeline_event("j"), codepipeline),
        (
            {**codepipeline_event("j"), "RequestType": "Create", "ResponseURL": "http://x"},
            codepipeline,
        ),
        (cloudformation_event("Delete", "http://x"), cloudformation),
        # no ResponseURL: nothing to answer through but the invoke
        (
            {"RequestType": "Create"},
            direct,
        ),
        ({}, direct),
        (None, direct),
        ([1], direct),
        ("upgrade", direct),
        ({"command": "status"}, direct),
    ],
)
def test_the_caller_is_told_from_the_event(event: Any, source: Any) -> None:
    assert identify(event) is source


@pytest.mark.parametrize(
    "remaining,engine", [(900.0, 896.0), (60.0, 56.0), (30.0, 26.0), (10.0, 6.0), (2.0, 1.0)]
)
def test_the_engine_gets_the_remaining_time_less_a_margin_to_report(
    remaining: float, engine: float
) -> None:
    # the margin: the watchdog's stop (3 s), the direct reply (0.5 s), the return (0.5 s); at most half
    assert Deadline.for_invocation(remaining).remaining() == pytest.approx(engine, abs=0.05)
    assert Deadline.for_invocation(None).remaining() == float("inf")


@pytest.mark.parametrize(
    "source,remaining,engine",
    [
        (cloudformation, 30.0, 20.0),
        (cloudformation, 900.0, 890.0),  # stop 3 + PUT 3 + 0.5 + PUT 3 + return 0.5
        (codepipeline, 30.0, 17.0),
        (codepipeline, 60.0, 47.0),  # stop 3 + 2 x (1.5 + 3) + 0.5 + return 0.5
        (codepipeline, 10.0, 5.0),  # never more than half
    ],
)
def test_the_margin_fits_the_callers_reply_with_one_retry(
    source: Any, remaining: float, engine: float
) -> None:
    deadline = Deadline.for_invocation(remaining, source.REPLY_SECONDS)
    assert deadline.remaining() == pytest.approx(engine, abs=0.05)


def test_application_name_keeps_the_request_id_within_63_characters() -> None:
    job = "0f5e8a9c-1111-4abc-9def-0123456789ab"
    assert (
        invocation.application_name("alembic-hook", "codepipeline", job)
        == f"alembic-hook/codepipeline/{job}"
    )
    long = invocation.application_name(
        "a-very-long-application-name-from-settings", "cloudformation", job
    )
    assert len(long) == 63 and long.endswith(f"/cloudformation/{job}")
    assert invocation.application_name("alembic-hook", "direct", None) == "alembic-hook/direct"


def test_bad_settings_become_a_configuration_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_SSLMODE", "sometimes")
    result = invocation.Invocation("direct", "r", lambda: 60.0)(Request(Command.UPGRADE, "head"))
    assert result.status is Status.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.CONFIGURATION and result.target == "head"


def test_an_engine_that_cannot_be_imported_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "lambda_fn.engine.execute", None)  # makes the import fail
    monkeypatch.delattr("lambda_fn.engine.execute", raising=False)
    import lambda_fn

    monkeypatch.delattr(lambda_fn, "migrator", raising=False)
    result = invocation.Invocation("direct", "r", lambda: 60.0)(Request())
    assert result.error is not None and result.error.kind is ErrorKind.INTERNAL
    assert "could not be loaded" in result.message


def _import_in_fresh_python(env: dict[str, str]) -> dict[str, Any]:
    """Import the handler, run a `heads` (no database needed), report what was loaded."""
    code = (
        "import json, sys; import lambda_fn.handler as h; from tests.support.inprocess import FakeContext; "
        "status = h.handler({'command': 'heads'}, FakeContext())['status']; "
        "print(json.dumps({'xray': 'aws_xray_sdk' in sys.modules, "
        "'tracer': h.telemetry.tracing.tracer is not None, 'status': status}))"
    )
    env = {**os.environ, "ALEMBIC_CONFIG": str(REPO / "alembic.ini"), **env}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "env",
    [
        {},  # not on Lambda
        {"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "true"},  # switched off
    ],
)
def test_tracing_off_costs_nothing(env: dict[str, str]) -> None:
    clean = dict.fromkeys(("AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_TRACE_DISABLED"), "")
    assert _import_in_fresh_python({**clean, **env}) == {
        "xray": False,
        "tracer": False,
        "status": "ok",
    }


@pytest.mark.parametrize(
    "env",
    [
        # as on Lambda: the runtime sets the trace header per invocation
        {
            "LAMBDA_TASK_ROOT": str(REPO),
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        },
        {"AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"},  # no segment at all: runs untraced
    ],
)
def test_tracing_on_uses_the_powertools_tracer_when_the_sdk_is_present(env: dict[str, str]) -> None:
    state = _import_in_fresh_python(
        {"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "", **env}
    )
    assert state == {"xray": True, "tracer": True, "status": "ok"}


def test_tracing_is_not_wanted_without_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert not telemetry.tracing_wanted({"AWS_LAMBDA_FUNCTION_NAME": "f"})

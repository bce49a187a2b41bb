"""The handler in process against the real database: a direct run end to end (result, function error,
metrics, logs, no password anywhere), and telemetry that fails without costing the reply."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from lambda_fn import handler as handler_module
from lambda_fn import telemetry
from lambda_fn.log import logger
from lambda_fn.sources import direct
from tests.support.database import Database
from tests.support.inprocess import FakeContext


def test_in_process_run_against_the_real_database(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in db.env().items():
        monkeypatch.setenv(key, value)
    log = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", log)
    context = FakeContext()
    result = handler_module.handler({}, context)
    assert result["status"] == "applied" and db.version() == ["0005_recommendations"]
    with pytest.raises(direct.MigrationFailed) as failed:
        handler_module.handler({"command": "stamp", "revision": "base"}, FakeContext())
    assert json.loads(str(failed.value))["error"]["kind"] == "confirmation_required"

    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    assert [m["caller"] for m in metrics] == ["direct", "direct"]
    assert [m["Failures"] for m in metrics] == [[0.0], [1.0]]
    assert metrics[0]["RevisionsApplied"] == [5.0] and "error_kind" not in metrics[0]
    assert metrics[1]["error_kind"] == "confirmation_required"  # metadata of this invocation only
    err = log.getvalue()
    logs = [json.loads(line) for line in err.splitlines()]
    finished = [r for r in logs if r["message"] == "Invocation finished"]
    assert (
        finished[0]["correlation_id"] == context.aws_request_id
        and finished[0]["caller"] == "direct"
    )
    assert db.url.split("@")[0].split(":")[-1] not in out + err  # the password


def test_telemetry_failures_never_cost_the_reply(
    monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    for key, value in db.env().items():
        monkeypatch.setenv(key, value)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("metrics backend down")

    monkeypatch.setattr(telemetry.metrics, "add_metric", broken)
    monkeypatch.setattr(telemetry.metrics, "flush_metrics", broken)
    assert handler_module.handler({"command": "heads"}, FakeContext())["status"] == "ok"

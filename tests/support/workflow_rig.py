"""One workflow, running locally for real: the state machines of a synthesized template created in moto (its
Step Functions interpreter executing them, AWS behaviour restored as ``moto_sfn`` describes), the hook's REAL
handler behind a local Lambda Invoke endpoint (in this process, or a pool of ``awslambdaric`` runtimes), the
helper's handler in this process, the long lane's buildspec run by a local CodeBuild, Secrets Manager on moto
server, RDS and S3 in moto, and the databases on the tests' real PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import moto_sfn
from tests.support.bundle_layout import Bundle
from tests.support.codebuild_fake import FakeCodeBuild, Project
from tests.support.database import Database
from tests.support.inprocess import FAKE_AWS
from tests.support.lambda_runtime import Function, LambdaProcess, RuntimeApi, lambda_env
from tests.support.lambda_service import InProcess, LambdaService, RuntimePool
from tests.support.moto_secrets import create_login
from tests.support.paths import REPO
from tests.support.projects import Rev, write_project
from tests.support.workflow_stacks import HOOK_SECRET

HOOK, HELPER, LANE = "hook", "helper", "long-lane"
WORKFLOW, GATE = "workflow", "gate"
LOCAL_SETTINGS = {
    "DB_SSLMODE": "disable",
    "DB_WAIT_SECONDS": "5",
    "MIGRATION_LOCK_WAIT_SECONDS": "5",
    "DB_LOCK_TIMEOUT_SECONDS": "1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "AlembicHookWorkflowTests",
}


def asset_project(root: Path, revisions: list[Rev]) -> Path:
    """An Alembic project laid out as the function's asset (lambda_fn/, migrations/ with alembic.ini inside),
    every revision linted as the build does (no squawk at run time). Returns the asset's root."""
    from lambda_fn.cli import build_lint

    ini = write_project(root / "project", revisions)
    assert build_lint.main([str(ini), "--write"]) == 0
    asset = root / "asset"
    asset.mkdir()
    (asset / "lambda_fn").symlink_to(REPO / "lambda_fn")
    (asset / "migrations").symlink_to(root / "project" / "migrations")
    shutil.copyfile(ini, root / "project" / "migrations" / "alembic.ini")
    return asset


def mark_long(asset: Path, revision: str) -> None:
    path = asset / "migrations" / "versions" / f"{revision}.py"
    path.write_text(path.read_text() + "\nalembic_hook_long = True\n")


def _logical(template: Mapping[str, Any], kind: str, **properties: str) -> str | None:
    for key, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == kind and all(props.get(k) == v for k, v in properties.items()):
            return str(key)
    return None


@dataclass
class Rig:
    template: dict[str, Any]
    asset: Path
    lambdas: LambdaService
    codebuild: FakeCodeBuild
    sfn: Any
    rds: Any
    s3: Any
    secrets: Any
    machines: dict[str, str]  # short name -> ARN
    literals: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        payload: Mapping[str, Any] | None = None,
        *,
        machine: str = WORKFLOW,
        name: str | None = None,
    ) -> moto_sfn.Execution:
        return moto_sfn.run(self.sfn, self.machines[machine], payload or {}, name=name)

    def secret_for(self, db: Database, name: str, **overrides: Any) -> str:
        """A login owning ``db`` and a secret ``name`` holding it (``overrides`` replace its fields)."""
        login = create_login(db, self.secrets)
        return str(
            self.secrets.create_secret(Name=name, SecretString=login.secret_value(**overrides))[
                "ARN"
            ]
        )

    def use_hook_secret(self, db: Database) -> str:
        """The hook's own database: its secret, as the template's placeholder ARN resolves here."""
        arn = self.secret_for(db, f"hook/{db.name}")
        self.literals[HOOK_SECRET] = arn
        self.create_machines()
        return arn

    def create_machines(self) -> None:
        """(Re)create the state machines from the template, with the deploy-time values resolved."""
        refs = self._refs()
        for logical, resource in moto_sfn.state_machines(self.template).items():
            short = GATE if "DeployGate" in logical else WORKFLOW
            definition = moto_sfn.resolve(resource["Properties"]["DefinitionString"], refs)
            for placeholder, value in self.literals.items():
                definition = definition.replace(placeholder, value)
            arn = moto_sfn.state_machine_arn(short)
            if short in self.machines:
                self.sfn.delete_state_machine(stateMachineArn=arn)
            self.sfn.create_state_machine(
                name=short,
                definition=moto_sfn.moto_definition(definition),
                roleArn="arn:aws:iam::123456789012:role/workflow",
            )
            self.machines[short] = arn

    def _refs(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        hook = _logical(self.template, "AWS::Lambda::Function", Handler="lambda_fn.handler.handler")
        helper = _logical(self.template, "AWS::Lambda::Function", Handler="helper.handler")
        assert hook and helper
        refs[hook] = moto_sfn.function_arn(HOOK)
        refs[helper] = moto_sfn.function_arn(HELPER)
        lane = _logical(self.template, "AWS::CodeBuild::Project")
        if lane:
            refs[lane] = LANE
        for logical in moto_sfn.state_machines(self.template):
            short = GATE if "DeployGate" in logical else WORKFLOW
            refs[logical] = moto_sfn.state_machine_arn(short)
            refs[f"{logical}.Name"] = short
        return refs

    def function_environment(self) -> dict[str, str]:
        """The hook function's environment from the template, resolved, with the local settings."""
        hook = _logical(self.template, "AWS::Lambda::Function", Handler="lambda_fn.handler.handler")
        assert hook
        variables = moto_sfn.resolve(
            self.template["Resources"][hook]["Properties"]["Environment"]["Variables"], self._refs()
        )
        env = {k: str(v) for k, v in variables.items()}
        env = {k: self.literals.get(v, v) for k, v in env.items()}
        return {**env, **LOCAL_SETTINGS}

    def lane_project(self) -> dict[str, Any]:
        lane = _logical(self.template, "AWS::CodeBuild::Project")
        assert lane
        return dict(self.template["Resources"][lane]["Properties"])


@contextmanager
def workflow_rig(
    template: dict[str, Any],
    asset: Path,
    *,
    moto_endpoint: str,
    port: int,
    pool: int | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Rig]:
    """The rig around ``template``'s workflow for the project in ``asset``. ``port``: where the local PostgreSQL
    listens (the template's DB_PORT is the RDS one). ``pool``: the hook runs in that many runtime processes (real
    concurrency); None: in this process, one invocation at a time."""
    from moto import mock_aws

    from alembic_hook_cdk.workflow.runtime import helper
    from lambda_fn import handler

    lambdas, codebuild = LambdaService(), FakeCodeBuild()
    runtimes: RuntimePool | None = None
    with (
        pytest.MonkeyPatch.context() as patch,
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        moto_sfn.aws_behaviour(),
    ):
        base = {
            **FAKE_AWS,
            "AWS_ENDPOINT_URL_LAMBDA": lambdas.url,
            "AWS_ENDPOINT_URL_CODEBUILD": codebuild.url,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
            "DB_PORT": str(port),
            **(extra_env or {}),
        }
        for key, value in base.items():
            patch.setenv(key, value)
        session = {"region_name": "us-east-1"}
        rig = Rig(
            template,
            asset,
            lambdas,
            codebuild,
            boto3.client("stepfunctions", **session),
            boto3.client("rds", **session),
            boto3.client("s3", **session),
            boto3.client("secretsmanager", **session),
            {},
        )
        rig.create_machines()
        function_env = {
            **rig.function_environment(),
            "DB_PORT": str(port),
            "ALEMBIC_CONFIG": str(asset / "migrations" / "alembic.ini"),
            "ALEMBIC_SCRIPT_LOCATION": str(asset / "migrations"),
        }
        if pool is None:
            for key, value in function_env.items():
                patch.setenv(key, value)
            lambdas.add(HOOK, InProcess(handler.handler))
        else:
            runtimes = RuntimePool(lambda: _runtime(asset, rig, base), pool)
            lambdas.add(HOOK, runtimes)
        lambdas.add(HELPER, InProcess(helper.handler, serial=False))
        if _logical(template, "AWS::CodeBuild::Project"):
            project = rig.lane_project()
            env = {
                v["Name"]: str(moto_sfn.resolve(v["Value"], rig._refs()))
                for v in project["Environment"]["EnvironmentVariables"]
            }
            codebuild.add_project(
                LANE, Project(json.loads(project["Source"]["BuildSpec"]), env, asset)
            )
            codebuild.extra_env.update({**base, **LOCAL_SETTINGS})
        try:
            yield rig
        finally:
            if runtimes is not None:
                runtimes.close()
            lambdas.close()
            codebuild.close()


def _runtime(asset: Path, rig: Rig, base: Mapping[str, str]) -> Function:
    """One execution environment of the hook: the real runtime client with the asset as its task root and this
    venv's packages as the runtime's (no copy: -S keeps everything else out)."""
    import sysconfig

    api = RuntimeApi()
    bundle = Bundle(task_root=asset, runtime_root=Path(sysconfig.get_paths()["purelib"]))
    env = {**rig.function_environment(), **base}
    env = {k: v for k, v in env.items() if not k.startswith("ALEMBIC_")}
    process = LambdaProcess(api, bundle, lambda_env(bundle, api.address, **env))
    return Function(api, process)

"""The helper function (``runtime/helper.py``): outside the VPC, standard library and boto3 only, its role
written out by hand (its own log group; what each of its jobs needs is granted by the part that uses it).

Its asset is ``runtime/helper.py`` with the standard-library modules of ``lambda_fn`` it imports beside it, at
their package paths (``lambda_fn/contract.py``, ``lambda_fn/aws/cfn_response.py``, empty ``__init__.py``), so
the helper reads the same wire contract and answers CloudFormation the same way as the hook's function,
without the hook's dependencies. The files are copied from the installed packages into a directory named by
their content: the asset hash follows them, and the same sources give the same template on every machine."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
# where each goes in the asset -> the module whose source it is
SHIPPED_MODULES = {"lambda_fn/contract.py": "lambda_fn.contract", "lambda_fn/aws/cfn_response.py":
                   "lambda_fn.aws.cfn_response"}
PACKAGES = ("lambda_fn/__init__.py", "lambda_fn/aws/__init__.py")
HELPER_HANDLER = "helper.handler"
# the newest Python runtime: the helper ships only its own file, so it never waits for a bundle's Python
HELPER_RUNTIME = lambda_.Runtime.PYTHON_3_14


def helper_function(scope: Construct, *, log_retention: logs.RetentionDays) -> tuple[lambda_.Function, iam.Role]:
    log_group = logs.LogGroup(scope, "HelperLogs", retention=log_retention)
    role = iam.Role(scope, "HelperRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description="Migration workflow helper: prunes the hook's snapshots, summarises results, "
                                "answers CloudFormation")
    role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                           resources=[log_group.log_group_arn]))
    function = lambda_.Function(
        scope, "Helper",
        description="Migration workflow helper (no database access)",
        runtime=HELPER_RUNTIME,
        handler=HELPER_HANDLER,
        code=lambda_.Code.from_asset(str(helper_asset()), exclude=["__pycache__", "*.pyc"]),
        role=role,
        memory_size=256,
        timeout=Duration.minutes(2),
        log_group=log_group,
        # CloudFormation and EventBridge invoke it asynchronously: a start is idempotent (the execution is named
        # after the request) and an answer is looked up before it is sent, so Lambda's retries are safe
        retry_attempts=2,
    )
    return function, role


@functools.cache
def helper_asset() -> Path:
    """The helper's asset directory (see the module's docstring), made once per content."""
    files = {"helper.py": (RUNTIME_DIR / "helper.py").read_bytes(),
             **{target: _module_source(module) for target, module in SHIPPED_MODULES.items()},
             **dict.fromkeys(PACKAGES, b"")}  # the packages' own __init__ would import what the helper lacks
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    target = Path(tempfile.gettempdir(), f"alembic-hook-helper-{digest.hexdigest()[:32]}")
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="alembic-hook-helper-staging-"))
        for name, content in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(content)
        try:
            os.replace(staging, target)  # atomic: a concurrent synth made the same directory, or this one did
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
    return target


def _module_source(module: str) -> bytes:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{module} is not importable: pip install alembic-deploy-hook")
    return Path(spec.origin).read_bytes()

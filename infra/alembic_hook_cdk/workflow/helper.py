"""The helper function (``runtime/helper.py``): outside the VPC, standard library and boto3 only, its role
written out by hand (its own log group; what each of its jobs needs is granted by the part that uses it).

Its asset is ``runtime/helper.py`` with the standard-library modules of ``lambda_fn`` it imports beside it, at
their package paths (``lambda_fn/contract.py``, ``lambda_fn/aws/cfn_response.py``, empty ``__init__.py``), so
the helper reads the same wire contract and answers CloudFormation the same way as the hook's function,
without the hook's dependencies. The files are copied from the installed packages into a directory named by
their content (in the user's cache): the asset hash follows them, and the same sources give the same
template on every machine."""

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
SHIPPED_MODULES = {
    "lambda_fn/contract.py": "lambda_fn.contract",
    "lambda_fn/aws/cfn_response.py": "lambda_fn.aws.cfn_response",
}
PACKAGES = ("lambda_fn/__init__.py", "lambda_fn/aws/__init__.py")
HELPER_HANDLER = "helper.handler"
# the newest Python runtime: the helper ships only its own file, so it never waits for a bundle's Python
HELPER_RUNTIME = lambda_.Runtime.PYTHON_3_14


def helper_function(
    scope: Construct, *, log_retention: logs.RetentionDays
) -> tuple[lambda_.Function, iam.Role]:
    log_group = logs.LogGroup(scope, "HelperLogs", retention=log_retention)
    role = iam.Role(
        scope,
        "HelperRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Migration workflow helper: prunes the hook's snapshots, summarises results, "
        "answers CloudFormation",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    function = lambda_.Function(
        scope,
        "Helper",
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
    """The helper's asset directory (see the module's docstring), made once per content, in this user's cache
    (never a shared temporary directory, where another user could have made it first); one whose files differ
    (a build interrupted while writing) is made again."""
    # the packages' own __init__ would import what the helper lacks
    files = {
        "helper.py": (RUNTIME_DIR / "helper.py").read_bytes(),
        **{target: _module_source(module) for target, module in SHIPPED_MODULES.items()},
        **dict.fromkeys(PACKAGES, b""),
    }
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "alembic-hook")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"helper-{digest.hexdigest()[:32]}"
    if _holds(target, files):
        return target
    staging = Path(tempfile.mkdtemp(prefix="helper-staging-", dir=cache))
    for name, content in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(content)
    shutil.rmtree(target, ignore_errors=True)
    try:
        # atomic; a concurrent synth may have made the same directory first
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    if not _holds(target, files):
        raise RuntimeError(f"could not write the workflow helper's asset to {target}")
    return target


def _holds(directory: Path, files: dict[str, bytes]) -> bool:
    """Whether ``directory`` holds exactly these files."""
    if not directory.is_dir():
        return False
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.suffix != ".pyc"
    }
    return present == set(files) and all(
        (directory / name).read_bytes() == files[name] for name in files
    )


def _module_source(module: str) -> bytes:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{module} is not importable: pip install alembic-deploy-hook")
    return Path(spec.origin).read_bytes()

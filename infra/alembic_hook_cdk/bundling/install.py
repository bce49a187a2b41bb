"""Installing the wheels into the asset: ``uv pip install --target`` for the Lambda's platform and Python,
then removing what never runs there, and reading back what was installed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from alembic_hook_cdk.bundling.requirements import normalise
from alembic_hook_cdk.bundling.spec import HookBundleSpec
from alembic_hook_cdk.bundling.tools import run

# Removed from the installed dependencies (2.1 MB unzipped, 0.6 MB zipped): see remove_unused.
UNUSED_AT_RUNTIME = ("bin", "sqlalchemy/testing", "alembic/testing", ".lock")


def install(spec: HookBundleSpec, *, uv: str, requirements: Path, output_dir: Path, cwd: Path) -> None:
    """Wheels only, no bytecode, for the target's platform: the uv spelling of ``pip install --platform
    manylinux2014_<arch> --python-version X.Y --implementation cp --only-binary=:all: --no-compile``."""
    command = [
        uv, "pip", "install",
        "--target", str(output_dir),
        "--python", sys.executable,  # only for uv's own bookkeeping: the target below decides the wheels
        "--python-platform", spec.target.uv_platform,
        "--python-version", spec.target.version,
        "--only-binary", ":all:",
        "--requirements", str(requirements),
    ]  # fmt: skip
    if spec.requirements_file is not None:
        command += ["--requirements", str(spec.requirements_file)]
    run(command, cwd=cwd, what="uv pip install")


def remove_unused(output_dir: Path) -> None:
    """Console scripts (alembic, mako-render, ...) cannot run on Lambda and only add weight; the test
    frameworks of SQLAlchemy and Alembic are imported only by their own test suites (pytest plugins);
    uv leaves its lock file in the target."""
    for leftover in UNUSED_AT_RUNTIME:
        path = output_dir / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def installed_packages(root: Path) -> dict[str, str]:
    """Distribution name -> version for every ``*.dist-info`` at the asset root."""
    packages: dict[str, str] = {}
    for info in sorted(root.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        packages[normalise(name)] = version
    return packages

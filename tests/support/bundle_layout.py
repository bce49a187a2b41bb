"""The asset's layout, built offline from this venv: the task root the Lambda runtime runs the function
from, and the runtime's own packages beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

HANDLER = "lambda_fn.handler.handler"

# What the asset ships (infra/bundling.py: the locked runtime dependencies, boto3 excepted) and what the
# Lambda Python runtime provides itself (boto3, the runtime interface client).
BUNDLED = ("alembic", "sqlalchemy", "pg8000", "aws-lambda-powertools")
RUNTIME_PROVIDED = ("boto3", "awslambdaric")


@dataclass(frozen=True)
class Bundle:
    task_root: Path  # /var/task: lambda_fn/, migrations/ (with alembic.ini), the bundled packages
    runtime_root: Path  # /var/runtime and the runtime's site-packages: boto3, awslambdaric

    def command(self, python: str = sys.executable, handler: str = HANDLER) -> list[str]:
        # -S: no site-packages of this venv, so only what the bundle and the runtime hold can be imported
        return [python, "-S", "-m", "awslambdaric", handler]

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join((str(self.task_root), str(self.runtime_root)))


def build_bundle(root: Path, *, bytecode: bool = True) -> Bundle:
    """The asset's layout, built offline from this venv's installed distributions: lambda_fn/, the Alembic
    scripts as migrations/ with alembic.ini inside, and the runtime dependencies at the root, compiled
    like the bundler compiles them (unchecked-hash: /var/task is read-only, bytecode is never written
    there at run time). A dependency the bundle lacks fails here exactly as it would on Lambda."""
    from alembic_hook_cdk.bundling import (  # here, not at the top: alembic_hook_cdk.bundling loads the CDK
        lint_revisions,
        read_heads,
    )

    task, runtime = root / "task", root / "runtime"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
    shutil.copytree(REPO / "lambda_fn", task / "lambda_fn", ignore=ignore)
    shutil.copytree(REPO / "alembic", task / "migrations", ignore=ignore)
    shutil.copyfile(REPO / "alembic.ini", task / "migrations" / "alembic.ini")
    # the heads manifest the bundler writes (lambda_fn/engine/heads_manifest.py): "already at head" imports no
    # revision
    read_heads(task / "migrations" / "alembic.ini", task / "migrations", write=True)
    # the safety gate's build step: every revision linted, so the function (no squawk there) judges them
    lint_revisions(task / "migrations" / "alembic.ini", task / "migrations", write=True)
    bundled = _closure(BUNDLED)
    for dist in bundled.values():
        _copy_distribution(dist, task)
    for name, dist in _closure(RUNTIME_PROVIDED).items():
        if name not in bundled:
            _copy_distribution(dist, runtime)
    if bytecode:
        for directory in (task, runtime):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "compileall",
                    "-q",
                    "-j",
                    "0",
                    "--invalidation-mode",
                    "unchecked-hash",
                    str(directory),
                ],
                check=True,
                capture_output=True,
            )
    return Bundle(task, runtime)


def _closure(names: tuple[str, ...]) -> dict[str, Any]:
    """Installed distributions of `names` and everything they require here (markers evaluated)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found: dict[str, Any] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        dist = metadata.distribution(name)
        found[key] = dist
        for raw in dist.requires or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def _copy_distribution(dist: Any, target: Path) -> None:
    for file in dist.files or []:
        source = Path(str(file.locate()))
        if "__pycache__" in file.parts or file.parts[0] == ".." or not source.is_file():
            continue  # console scripts live outside site-packages; bytecode is compiled afresh
        destination = target / Path(*file.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)

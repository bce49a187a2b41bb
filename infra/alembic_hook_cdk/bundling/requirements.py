"""The hook's runtime dependencies, exported from ``uv.lock`` (never the dev or infra groups)."""

from __future__ import annotations

import re
from pathlib import Path

from alembic_hook_cdk.bundling.compat import RUNTIME_PROVIDED
from alembic_hook_cdk.bundling.spec import HookBundleSpec
from alembic_hook_cdk.bundling.tools import run


def export_requirements(spec: HookBundleSpec, *, uv: str, cwd: Path) -> str:
    """The hook's runtime dependencies as pinned in uv.lock, minus what the runtime provides."""
    done = run(
        [
            uv,
            "export",
            "--project",
            str(spec.hook_root),
            "--frozen",
            "--no-default-groups",
            "--no-emit-project",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--format",
            "requirements-txt",
        ],
        cwd=cwd,
        what="uv export",
    )
    lines = []
    for line in done.splitlines():
        name = requirement_name(line)
        if name is None:
            continue
        if spec.boto3_from_runtime and name in RUNTIME_PROVIDED:
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def requirement_name(line: str) -> str | None:
    """The normalised distribution name a requirements line pins, or None for comments and options."""
    line = line.strip()
    if not line or line.startswith(("#", "-")):
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return normalise(match.group(0)) if match else None


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()

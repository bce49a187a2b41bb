"""The Alembic heads, learned the one way every build step learns them: ``python -m lambda_fn.cli.build_heads``
in a subprocess. ``read_heads`` answers the construct (``run_on_deploy`` targets the concrete head) and the
e2e harness; ``write_heads_manifest`` records them in the asset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alembic_hook_cdk.bundling.layout import ALEMBIC_INI, MIGRATIONS_DIR
from alembic_hook_cdk.bundling.tools import BundlingError, Log, log_to_stderr


def run_project_module(module: str, alembic_ini: Path, script_location: Path, extra_source_dirs: Iterable[Path] = (),
                       *, handler_source: Path | None = None, write: bool = False) -> dict[str, Any]:
    """`python -m <module> INI SCRIPT_LOCATION [--write]` (a build-time entry of lambda_fn/cli) in a subprocess
    with the service's folders on PYTHONPATH (the revisions may import them), so nothing edits this process's
    `sys.path`; its JSON answer.

    It runs from an empty directory of its own, with absolute paths and ``-P``: neither the CDK app's
    directory nor the working directory is on its path, so a team's ``app.py`` (the CDK entry) can never be
    what env.py's ``from app.models import Base`` imports, which would synthesize again, recursively."""
    from alembic_hook_cdk.bundling.spec import installed_handler

    handler = handler_source or installed_handler()
    paths = [str(handler.parent), *(str(Path(d).resolve().parent) for d in extra_source_dirs)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="hook-build-") as neutral:
        done = subprocess.run(
            [sys.executable, "-P", "-m", module, str(Path(alembic_ini).resolve()), str(Path(script_location).resolve()),
             *(["--write"] if write else [])],
            env=env, cwd=neutral, capture_output=True, text=True, check=False,
        )
    if done.returncode != 0:
        raise BundlingError(done.stderr.strip()[-500:] or f"exit {done.returncode}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def read_heads(alembic_ini: Path, script_location: Path, extra_source_dirs: Iterable[Path] = (),
               *, handler_source: Path | None = None, write: bool = False) -> tuple[str, ...]:
    """The project's heads, the one way every build step learns them (`lambda_fn.cli.build_heads`). With `write`,
    the manifest is also written next to env.py."""
    answer = run_project_module("lambda_fn.cli.build_heads", alembic_ini, script_location, extra_source_dirs,
                                handler_source=handler_source, write=write)
    return tuple(answer["heads"])


def write_heads_manifest(output_dir: Path, extra_source_dirs: Iterable[Path], *, handler_source: Path,
                         log: Log = log_to_stderr) -> None:
    """Record the migration heads with the revision files' fingerprint (lambda_fn/engine/heads_manifest.py), so
    a cold start answers "already at head" without importing every revision. Only an optimisation: when the
    revisions cannot be imported here (say they need the service's own packages), the function finds the
    heads itself at run time."""
    try:
        read_heads(output_dir / ALEMBIC_INI, output_dir / MIGRATIONS_DIR, extra_source_dirs,
                   handler_source=handler_source, write=True)
    except BundlingError as exc:
        log(f"heads manifest skipped (the function will find the heads at run time): {exc}")

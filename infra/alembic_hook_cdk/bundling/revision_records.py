"""What the build records about the team's revisions, each learned by a build-time entry of ``lambda_fn/cli``
run in a subprocess: the Alembic heads (``python -m lambda_fn.cli.build_heads``: ``read_heads`` answers the
construct, whose ``run_on_deploy`` targets the concrete head, and the e2e harness; the heads manifest lets a
cold start answer "already at head" without importing every revision) and the safety gate's verdict on every
revision (``python -m lambda_fn.cli.build_lint`` writes ``alembic_hook_lint.json`` next to env.py), so the
function lints nothing at run time and ships no squawk binary (24.8 MB unpacked, which would more than double
the zipped asset).

The squawk binary comes from the build host: ``squawk-cli`` is a dependency of the distribution, so it sits
beside the Python running the build (or ``$ALEMBIC_HOOK_SQUAWK`` names one). Without it the build stops with
the install instruction: an asset that cannot judge its revisions is never built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alembic_hook_cdk.bundling.target import ALEMBIC_INI, MIGRATIONS_DIR
from alembic_hook_cdk.bundling.tools import BundlingError, Log, log_to_stderr

LINT_MANIFEST = f"{MIGRATIONS_DIR}/alembic_hook_lint.json"
INSTALL_SQUAWK = (
    "pip install squawk-cli==2.70.0 into the environment that runs the CDK app (it comes with "
    "`pip install alembic-deploy-hook`), or set $ALEMBIC_HOOK_SQUAWK to a squawk binary"
)


def run_project_module(
    module: str,
    alembic_ini: Path,
    script_location: Path,
    extra_source_dirs: Iterable[Path] = (),
    *,
    handler_source: Path | None = None,
    write: bool = False,
) -> dict[str, Any]:
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
            [
                sys.executable,
                "-P",
                "-m",
                module,
                str(Path(alembic_ini).resolve()),
                str(Path(script_location).resolve()),
                *(["--write"] if write else []),
            ],
            env=env,
            cwd=neutral,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise BundlingError(done.stderr.strip()[-500:] or f"exit {done.returncode}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


# -- the heads ----------------------------------------------------------------------------------------------------


def read_heads(
    alembic_ini: Path,
    script_location: Path,
    extra_source_dirs: Iterable[Path] = (),
    *,
    handler_source: Path | None = None,
    write: bool = False,
) -> tuple[str, ...]:
    """The project's heads, the one way every build step learns them (`lambda_fn.cli.build_heads`). With `write`,
    the manifest is also written next to env.py."""
    answer = run_project_module(
        "lambda_fn.cli.build_heads",
        alembic_ini,
        script_location,
        extra_source_dirs,
        handler_source=handler_source,
        write=write,
    )
    return tuple(answer["heads"])


def write_heads_manifest(
    output_dir: Path,
    extra_source_dirs: Iterable[Path],
    *,
    handler_source: Path,
    log: Log = log_to_stderr,
) -> None:
    """Record the migration heads with the revision files' fingerprint (lambda_fn/engine/heads_manifest.py), so
    a cold start answers "already at head" without importing every revision. Only an optimisation: when the
    revisions cannot be imported here (say they need the service's own packages), the function finds the
    heads itself at run time."""
    try:
        read_heads(
            output_dir / ALEMBIC_INI,
            output_dir / MIGRATIONS_DIR,
            extra_source_dirs,
            handler_source=handler_source,
            write=True,
        )
    except BundlingError as exc:
        log(f"heads manifest skipped (the function will find the heads at run time): {exc}")


# -- the safety gate's verdicts -------------------------------------------------------------------------------------


def linter_version() -> str | None:
    """The version of the squawk the build would lint with, or None when there is none."""
    from lambda_fn.engine.gate import squawk

    binary = squawk.find()
    return None if binary is None else squawk.version(binary)


def lint_revisions(
    alembic_ini: Path,
    script_location: Path,
    extra_source_dirs: tuple[Path, ...] = (),
    *,
    handler_source: Path | None = None,
    write: bool = False,
) -> dict[str, object]:
    """Lint every revision (`lambda_fn.cli.build_lint`, run like the heads manifest)."""
    return run_project_module(
        "lambda_fn.cli.build_lint",
        alembic_ini,
        script_location,
        extra_source_dirs,
        handler_source=handler_source,
        write=write,
    )


def write_lint_manifest(
    output_dir: Path,
    extra_source_dirs: tuple[Path, ...],
    *,
    linter: str | None,
    handler_source: Path,
    log: Log = log_to_stderr,
) -> None:
    if linter is None:
        raise BundlingError(f"no squawk binary to lint the revisions with: {INSTALL_SQUAWK}")
    try:
        summary = lint_revisions(
            output_dir / ALEMBIC_INI,
            output_dir / MIGRATIONS_DIR,
            extra_source_dirs,
            handler_source=handler_source,
            write=True,
        )
    except BundlingError as exc:
        # The revisions could not be read here (say they import a package the build lacks): the function then
        # refuses them (hook:lint-unavailable) and the fix is to make them importable at synth, not to ack.
        log(
            f"LINT MANIFEST SKIPPED: {exc}. The revisions could not be imported at build time, so the deploy "
            "will refuse them (hook:lint-unavailable): pass the folders they import as extra_source_dirs and "
            "what those need as requirements_file, then synth again."
        )
        return
    log(
        f"lint manifest: {summary['revisions']} revisions, {summary['findings']} raw findings, "
        f"squawk {summary['squawk']}"
    )

"""The build's external tools: how they are run and probed, the build log, and the one error the build raises."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


class BundlingError(RuntimeError):
    """The asset could not be built; the message says what to install or change."""


Log = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    print(f"[migration-hook bundling] {message}", file=sys.stderr, flush=True)


def run(command: list[str], *, cwd: Path, what: str) -> str:
    """Run a build tool (never downloading a Python, never writing bytecode of its own); its stdout."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise BundlingError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def works(command: list[str], *, expect: str | None = None) -> bool:
    """Whether a candidate tool runs (from a neutral directory) and, with ``expect``, prints exactly that."""
    try:
        done = subprocess.run(
            command, cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return False
    return done.returncode == 0 and (expect is None or done.stdout.strip() == expect)


@functools.cache
def find_uv() -> str:
    """A working uv. pyenv shims resolve the tool per directory and may fail inside a project whose
    .python-version names another interpreter, so each candidate is tried from a neutral directory."""
    candidates = [os.environ.get("UV"), _declared_uv(), str(Path(sys.executable).with_name("uv")), shutil.which("uv")]
    for candidate in candidates:
        if candidate and works([candidate, "--version"]):
            return candidate
    raise BundlingError("uv is required to bundle the migration function: pip install 'alembic-deploy-hook[cdk]' "
                        "(the extra brings it), or set $UV to a uv binary")


def _declared_uv() -> str | None:
    """The uv the ``[cdk]`` extra installs (PyPI ``uv`` knows where its own binary is)."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return None

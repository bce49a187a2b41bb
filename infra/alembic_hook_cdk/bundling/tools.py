"""The build's plumbing: the one error it raises, its log, running and finding its tools (uv), and which
source files go into the asset (and its hash), how they are copied, how a built asset is listed."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from fnmatch import fnmatch
from pathlib import Path


class BundlingError(RuntimeError):
    """The asset could not be built; the message says what to install or change."""


Log = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    print(f"[migration-hook bundling] {message}", file=sys.stderr, flush=True)


def run(command: list[str], *, cwd: Path, what: str) -> str:
    """Run a build tool (never downloading a Python, never writing bytecode of its own); its stdout."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        raise BundlingError(
            f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done.stdout


def works(command: list[str], *, expect: str | None = None) -> bool:
    """Whether a candidate tool runs (from a neutral directory) and, with ``expect``, prints exactly that."""
    try:
        done = subprocess.run(
            command,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0 and (expect is None or done.stdout.strip() == expect)


@functools.cache
def find_uv() -> str:
    """A working uv. pyenv shims resolve the tool per directory and may fail inside a project whose
    .python-version names another interpreter, so each candidate is tried from a neutral directory."""
    candidates = [
        os.environ.get("UV"),
        _declared_uv(),
        str(Path(sys.executable).with_name("uv")),
        shutil.which("uv"),
    ]
    for candidate in candidates:
        if candidate and works([candidate, "--version"]):
            return candidate
    raise BundlingError(
        "uv is required to bundle the migration function: pip install 'alembic-deploy-hook[cdk]' "
        "(the extra brings it), or set $UV to a uv binary"
    )


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


# -- what is bundled --

# Never copied into the asset nor hashed.
IGNORED = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "tests",
    ".DS_Store",
)


def ignored(name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in IGNORED)


def walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Files under ``root`` (or ``root`` itself), sorted, skipping what is never bundled."""
    if root.is_file():
        yield root.name, root
        return
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not ignored(d))
        for filename in sorted(f for f in filenames if not ignored(f)):
            path = Path(directory, filename)
            yield path.relative_to(root).as_posix(), path


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=lambda _dir, names: [n for n in names if ignored(n)])


def iter_asset_files(root: Path) -> Iterable[Path]:
    """Every file of a built asset (for measuring and tests)."""
    return (p for p in sorted(root.rglob("*")) if p.is_file())

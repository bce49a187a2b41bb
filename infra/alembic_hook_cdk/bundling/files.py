"""Which source files go into the asset (and its hash), how they are copied, and how a built asset is listed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from fnmatch import fnmatch
from pathlib import Path

# Never copied into the asset nor hashed.
IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests", ".DS_Store")


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

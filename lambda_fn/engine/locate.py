"""Where an Alembic project's files are, read from its ini without importing Alembic (the fast path's
view; the full path asks Alembic's own Config and ScriptDirectory)."""

from __future__ import annotations

import configparser
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from lambda_fn.engine import heads_manifest
from lambda_fn.engine.heads_manifest import VersionTable


def resolve_path(path: str) -> Path:
    """Relative paths are relative to the function's code (LAMBDA_TASK_ROOT) or the working directory."""
    p = Path(path)
    return p if p.is_absolute() else Path(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()) / p


@dataclass(frozen=True)
class Located:
    ini: Path
    script_dir: Path

    @property
    def version_dirs(self) -> list[Path]:
        return [self.script_dir / "versions"]

    @functools.cached_property
    def fingerprint(self) -> str:
        """The revision files' fingerprint. In a Lambda deployment package (under LAMBDA_TASK_ROOT, read-only:
        the code cannot change under a running function) the one the build wrote into the manifest is the
        fingerprint of these very files, so it is read rather than recomputed from 1,000 files."""
        if (shipped := heads_manifest.shipped_fingerprint(self.script_dir)) and _deployed(
            self.script_dir
        ):
            return shipped
        return heads_manifest.fingerprint(self.version_dirs)

    def known(self) -> tuple[tuple[str, ...], VersionTable] | None:
        """The heads and the version table, when the manifest or the cache knows them for these files."""
        heads = heads_manifest.lookup(self.script_dir, self.fingerprint)
        if heads is None:
            return None
        versions = heads_manifest.lookup_version_table(
            self.script_dir, heads_manifest.env_fingerprint(self.script_dir / "env.py", self.ini)
        )
        return None if versions is None else (heads, versions)


def _deployed(path: Path) -> bool:
    root = os.environ.get("LAMBDA_TASK_ROOT")
    return (
        bool(root)
        and os.environ.get("AWS_LAMBDA_FUNCTION_NAME") is not None
        and path.is_relative_to(root or "/")
    )


def locate(config_file: str, script_location: str | None) -> Located | None:
    """The project's script directory as Alembic would find it; None when only Alembic can tell (a package
    resource, `version_locations`, an ini it would refuse). Memoised per process by the ini's stat signature
    and the directories relative paths resolve against."""
    ini = resolve_path(config_file)
    try:
        st = os.stat(ini)
    except OSError:
        return None
    found = _locate(
        ini,
        script_location,
        (st.st_size, st.st_mtime_ns, os.getcwd(), os.environ.get("LAMBDA_TASK_ROOT")),
    )
    # a new Located per run: its fingerprint (of the revision files, not the ini) is computed per run
    return Located(ini, found) if found else None


@functools.lru_cache(maxsize=8)
def _locate(ini: Path, script_location: str | None, signature: tuple[object, ...]) -> Path | None:
    """The script directory (`signature`: what may change the answer, for the cache's key)."""
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    try:
        if not parser.read(ini):
            return None
        section = parser["alembic"]
        if section.get("version_locations") or section.get("version_path_separator") == ";":
            return None
        location = script_location or section.get("script_location", "")
    except (configparser.Error, KeyError):
        return None
    if not location or (not os.path.isabs(location) and ":" in location):
        return None  # a "package:resource" location
    script_dir = resolve_path(location) if script_location else Path(os.path.abspath(location))
    return script_dir if (script_dir / "env.py").is_file() else None

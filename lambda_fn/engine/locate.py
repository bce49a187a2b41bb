"""Where an Alembic project's files are, read from its ini without importing Alembic (the fast path's
view; the full path asks Alembic's own Config and ScriptDirectory)."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from lambda_fn.engine import manifest
from lambda_fn.engine.manifest import VersionTable


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

    @property
    def fingerprint(self) -> str:
        return manifest.fingerprint(self.version_dirs)

    def known(self) -> tuple[tuple[str, ...], VersionTable] | None:
        """The heads and the version table, when the manifest or the cache knows them for these files."""
        heads = manifest.lookup(self.script_dir, self.fingerprint)
        if heads is None:
            return None
        versions = manifest.lookup_version_table(
            self.script_dir, manifest.env_fingerprint(self.script_dir / "env.py", self.ini))
        return None if versions is None else (heads, versions)


def locate(config_file: str, script_location: str | None) -> Located | None:
    """The project's script directory as Alembic would find it; None when only Alembic can tell (a package
    resource, `version_locations`, an ini it would refuse)."""
    ini = resolve_path(config_file)
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
    return Located(ini, script_dir) if (script_dir / "env.py").is_file() else None

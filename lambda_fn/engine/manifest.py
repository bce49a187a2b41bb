"""What is known about an Alembic project, remembered by the content of its files.

Finding the heads means Alembic imports every revision file, and finding the version table means running
env.py: with 1,000 revisions that is most of an "already at head" run. Hashing the files' bytes is far
cheaper, and because the key is the content, a remembered answer can never be stale: any edit changes it.

- the heads, keyed by the revision files' fingerprint;
- the version table env.py uses (`version_table`, `version_table_schema`), keyed by the fingerprint of
  env.py and the ini file.

Where answers are remembered, first hit wins:
1. `alembic_hook_heads.json` next to env.py, written when the Lambda asset is built
   (`python -m lambda_fn.cli.manifest ALEMBIC_INI --write`), so even a cold start imports nothing;
2. a file per fingerprint in the temp directory (writable on Lambda too), written by the full path after it
   found the heads or probed env.py, for later runs on the machine.

Hashing 1,000 files still costs milliseconds, so the revision fingerprint is itself memoised per process by
the files' (name, size, mtime) signature, which a stat walk reads without opening a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "alembic_hook_heads.json"
DEFAULT_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class VersionTable:
    """Where env.py keeps the revision."""

    table: str = DEFAULT_VERSION_TABLE
    schema: str | None = None

    def qualified(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def _py_files(version_dirs: Iterable[str | Path]) -> list[tuple[str, str]]:
    """(relative name, path) of every revision file, in a stable order."""
    found: list[tuple[str, str]] = []
    for directory in sorted(str(d) for d in version_dirs):
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(root, directory)
            found.extend((f"{rel}/{name}", os.path.join(root, name)) for name in sorted(files) if name.endswith(".py"))
    return found


_memo: dict[tuple[Any, ...], str] = {}


def fingerprint(version_dirs: Iterable[str | Path]) -> str:
    """sha256 over every revision file's name and bytes (os.walk and plain strings: pathlib's per-file
    overhead was most of the cost at 1,000 files)."""
    files = _py_files(version_dirs)
    signature = tuple((rel, st.st_size, st.st_mtime_ns) for rel, path in files for st in (os.stat(path),))
    if (known := _memo.get(signature)) is not None:
        return known
    digest = hashlib.sha256()
    for rel, path in files:
        with open(path, "rb") as f:
            digest.update(rel.encode() + b"\0" + f.read() + b"\0")
    _memo.clear()  # one project per process in practice: keep the memo to the latest signature
    _memo[signature] = digest.hexdigest()
    return _memo[signature]


def env_fingerprint(env_py: str | Path, ini: str | Path) -> str:
    """What decides the version table: env.py and the ini it reads (memoised by the files' stat signature)."""
    signature = tuple(_stat(p) for p in (env_py, ini))
    key = (str(env_py), str(ini), signature)
    if (known := _env_memo.get(key)) is not None:
        return known
    digest = hashlib.sha256()
    for path in (env_py, ini):
        try:
            with open(path, "rb") as f:
                digest.update(f.read() + b"\0")
        except OSError:
            digest.update(b"-\0")
    _env_memo.clear()
    _env_memo[key] = digest.hexdigest()
    return _env_memo[key]


_env_memo: dict[tuple[Any, ...], str] = {}
# content-keyed answers already found in this process: (script dir, fingerprint) -> answer; they cannot change
_heads_hits: dict[tuple[str, str], tuple[str, ...]] = {}
_version_hits: dict[tuple[str, str], VersionTable] = {}


def _stat(path: str | Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _cache_file(kind: str, fp: str) -> Path:
    return Path(tempfile.gettempdir()) / "alembic-hook" / f"{kind}-{fp}.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def lookup(script_dir: str | Path, fp: str) -> tuple[str, ...] | None:
    if (hit := _heads_hits.get((str(script_dir), fp))) is not None:
        return hit
    for candidate in (Path(script_dir) / MANIFEST, _cache_file("heads", fp)):
        data = _read(candidate)
        if data and data.get("fingerprint") == fp and isinstance(data.get("heads"), list):
            heads = tuple(str(h) for h in data["heads"])
            _heads_hits[(str(script_dir), fp)] = heads
            return heads
    return None


def shipped_fingerprint(script_dir: str | Path) -> str | None:
    """The fingerprint the build recorded in the manifest next to env.py (trusted only where the files cannot
    change: see locate.Located.fingerprint)."""
    data = _read(Path(script_dir) / MANIFEST)
    value = data.get("fingerprint") if data else None
    return value if isinstance(value, str) else None


def lookup_version_table(script_dir: str | Path, env_fp: str) -> VersionTable | None:
    """The version table env.py uses: what the full path last probed on this machine, else the build's."""
    if (hit := _version_hits.get((str(script_dir), env_fp))) is not None:
        return hit
    for candidate in (_cache_file("env", env_fp), Path(script_dir) / MANIFEST):
        data = _read(candidate)
        if data and data.get("env_fingerprint") == env_fp and isinstance(data.get("version_table"), str):
            schema = data.get("version_table_schema")
            found = VersionTable(data["version_table"], schema if isinstance(schema, str) else None)
            _version_hits[(str(script_dir), env_fp)] = found
            return found
    return None


def remember(fp: str, heads: tuple[str, ...], path: Path | None = None, *,
             env_fp: str | None = None, version_table: VersionTable | None = None) -> None:
    record: dict[str, Any] = {"fingerprint": fp, "heads": list(heads)}
    if env_fp is not None and version_table is not None:
        record |= _version_record(env_fp, version_table)
    _write(path or _cache_file("heads", fp), record)


def remember_version_table(env_fp: str, version_table: VersionTable) -> None:
    """What the full path's online probe found: it wins over the build's offline answer from now on."""
    for key in [k for k in _version_hits if k[1] == env_fp]:
        _version_hits[key] = version_table
    _write(_cache_file("env", env_fp), _version_record(env_fp, version_table))


def _version_record(env_fp: str, version_table: VersionTable) -> dict[str, Any]:
    return {"env_fingerprint": env_fp, "version_table": version_table.table,
            "version_table_schema": version_table.schema}


def _write(target: Path, record: dict[str, Any]) -> None:
    try:
        if _read(target) == record:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(target)  # atomic: a concurrent reader sees the old file or the new one
    except OSError:
        pass  # a cache that cannot be written is only a slower next run

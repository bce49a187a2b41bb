"""What is known about an Alembic project, remembered by the content of its files.

Finding the heads means Alembic imports every revision file, and finding the version table means running
env.py: with 1,000 revisions that is most of an "already at head" run. Hashing the files' bytes is far
cheaper, and because the key is the content, a remembered answer can never be stale: any edit changes it.

- the heads, keyed by the revision files' fingerprint;
- the version table env.py uses (`version_table`, `version_table_schema`), keyed by the fingerprint of
  env.py and the ini file, and trusted only while every environment variable env.py read to decide it still
  has the value it had (`env_reads.py`: a per-tenant `version_table` from `os.environ` is never answered
  for the wrong tenant).

Where answers are remembered, first hit wins:
1. `alembic_hook_heads.json` next to env.py, written when the Lambda asset is built
   (`python -m lambda_fn.cli.build_heads ALEMBIC_INI --write`), so even a cold start imports nothing;
2. a file per fingerprint in this user's private cache directory (`cache.py`: a directory or an entry another
   user owns or could write is ignored), written by the full path after it found the heads or probed env.py,
   for later runs on the machine.

Hashing 1,000 files still costs milliseconds, so the revision fingerprint is itself memoised per process by
the files' (name, size, mtime) signature, which a stat walk reads without opening a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pg8000.native import identifier

from lambda_fn.engine.cache import cache_dir, read_json, write_json
from lambda_fn.engine.env_reads import EnvReads, digest

HEADS_MANIFEST = "alembic_hook_heads.json"
DEFAULT_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class VersionTable:
    """Where env.py keeps the revision."""

    table: str = DEFAULT_VERSION_TABLE
    schema: str | None = None

    def qualified(self) -> str:
        """`schema.table` as a person reads it (the one place it is spelled)."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def quoted(self) -> str:
        """The same name quoted for SQL."""
        return (
            f"{identifier(self.schema)}.{identifier(self.table)}"
            if self.schema
            else identifier(self.table)
        )


def _py_files(version_dirs: Iterable[str | Path]) -> list[tuple[str, str]]:
    """(relative name, path) of every revision file, in a stable order."""
    found: list[tuple[str, str]] = []
    for directory in sorted(str(d) for d in version_dirs):
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(root, directory)
            found.extend(
                (f"{rel}/{name}", os.path.join(root, name))
                for name in sorted(files)
                if name.endswith(".py")
            )
    return found


_memo: dict[tuple[Any, ...], str] = {}


def fingerprint(version_dirs: Iterable[str | Path]) -> str:
    """sha256 over every revision file's name and bytes (os.walk and plain strings: pathlib's per-file
    overhead was most of the cost at 1,000 files)."""
    files = _py_files(version_dirs)
    signature = tuple(
        (rel, st.st_size, st.st_mtime_ns) for rel, path in files for st in (os.stat(path),)
    )
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
_version_hits: dict[tuple[str, str], tuple[VersionTable, EnvReads]] = {}


def _stat(path: str | Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _cache_file(kind: str, fp: str) -> Path:
    return cache_dir() / f"{kind}-{fp}.json"


def lookup(script_dir: str | Path, fp: str) -> tuple[str, ...] | None:
    if (hit := _heads_hits.get((str(script_dir), fp))) is not None:
        return hit
    for candidate, trusted in (
        (Path(script_dir) / HEADS_MANIFEST, True),
        (_cache_file("heads", fp), False),
    ):
        data = read_json(candidate, trusted=trusted)
        if data and data.get("fingerprint") == fp and isinstance(data.get("heads"), list):
            heads = tuple(str(h) for h in data["heads"])
            _heads_hits[(str(script_dir), fp)] = heads
            return heads
    return None


def shipped_fingerprint(script_dir: str | Path) -> str | None:
    """The fingerprint the build recorded in the manifest next to env.py (trusted only where the files cannot
    change: see locate.Located.fingerprint)."""
    data = read_json(Path(script_dir) / HEADS_MANIFEST, trusted=True)
    value = data.get("fingerprint") if data else None
    return value if isinstance(value, str) else None


def lookup_version_table(script_dir: str | Path, env_fp: str) -> VersionTable | None:
    """The version table env.py uses: what the full path last probed on this machine, else the build's; only
    while the environment variables env.py read then still have their values."""
    if (hit := _version_hits.get((str(script_dir), env_fp))) is not None:
        return hit[0] if hit[1].still_holds() else None
    for candidate, trusted in (
        (_cache_file("env", env_fp), False),
        (Path(script_dir) / HEADS_MANIFEST, True),
    ):
        data = read_json(candidate, trusted=trusted)
        if not (
            data
            and data.get("env_fingerprint") == env_fp
            and isinstance(data.get("version_table"), str)
        ):
            continue
        reads = _reads_of(data)
        if reads is None or not reads.still_holds():
            continue  # written before reads were recorded, or env.py would decide differently now
        schema = data.get("version_table_schema")
        found = VersionTable(data["version_table"], schema if isinstance(schema, str) else None)
        _version_hits[(str(script_dir), env_fp)] = (found, reads)
        return found
    return None


def _reads_of(data: dict[str, Any]) -> EnvReads | None:
    names = data.get("environment")
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        return None
    return EnvReads(
        {str(k): v for k, v in names.items()}, whole=data.get("environment_whole") is not False
    )


def remember(
    fp: str,
    heads: tuple[str, ...],
    path: Path | None = None,
    *,
    env_fp: str | None = None,
    version_table: VersionTable | None = None,
    reads: EnvReads | None = None,
) -> None:
    record: dict[str, Any] = {"fingerprint": fp, "heads": list(heads)}
    if env_fp is not None and version_table is not None and reads is not None:
        record |= _version_record(env_fp, version_table, reads)
    _write(path or _cache_file("heads", fp), record)


def remember_version_table(env_fp: str, version_table: VersionTable, reads: EnvReads) -> None:
    """What the full path's online probe found: it wins over the build's offline answer from now on. The
    variables an earlier probe of the same env.py read are kept (a module env.py imports reads the
    environment only the first time it is imported in a process), with their values as of now."""
    earlier = _reads_of(read_json(_cache_file("env", env_fp)) or {})
    if earlier is not None:
        reads = EnvReads(
            {**{n: digest(os.environ.get(n)) for n in earlier.names}, **reads.names},
            whole=reads.whole or earlier.whole,
        )
    for key in [k for k in _version_hits if k[1] == env_fp]:
        _version_hits[key] = (version_table, reads)
    _write(_cache_file("env", env_fp), _version_record(env_fp, version_table, reads))


def _version_record(env_fp: str, version_table: VersionTable, reads: EnvReads) -> dict[str, Any]:
    return {
        "env_fingerprint": env_fp,
        "version_table": version_table.table,
        "version_table_schema": version_table.schema,
        "environment": dict(sorted(reads.names.items())),
        "environment_whole": reads.whole,
    }


def _write(target: Path, record: dict[str, Any]) -> None:
    try:
        if read_json(target) == record:
            return
        write_json(target, json.dumps(record))
    except OSError:
        pass  # a cache that cannot be written is only a slower next run

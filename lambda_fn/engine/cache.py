"""Content keys and this user's private cache: what the heads manifest and the lint records share.

- `file_sha256`: a file's bytes hashed, never imported: the ledger's integrity check keys revisions by it, and
  a lint record is keyed by the same value.
- `cache_dir()`: a directory of the temp directory private to this user (`alembic-hook-<uid>`, mode 0700;
  writable on Lambda too). A shared `$TMPDIR` (a CI runner, a shared host) is not trusted: a directory or an
  entry that another user owns or could write is neither read nor written through (`_private`).
- `read_json` / `write_json`: one JSON object per file, written atomically (a concurrent reader sees the old
  file or the new one).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cache_dir() -> Path:
    """This user's cache directory in the temp directory (per uid: another user's is never read)."""
    return Path(tempfile.gettempdir()) / f"alembic-hook-{os.getuid()}"


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else (what a planted entry or directory cannot be)."""
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def ensure_cache_dir() -> Path | None:
    """The private cache directory, made private (0700) if it is missing; None when it exists and is not
    ours alone, or cannot be made."""
    directory = cache_dir()
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(directory)
    except OSError:
        return None
    return (
        directory if stat.S_ISDIR(st.st_mode) and _private(st) and not st.st_mode & 0o077 else None
    )


def read_json(path: Path, *, trusted: bool = False) -> dict[str, Any] | None:
    """The JSON object in `path`; a cache entry (not `trusted`: a build's manifest is) only when it and its
    directory are this user's own and no one else could have written them, and it is a plain file."""
    try:
        if not trusted:
            # open without following a symlink, then check the very file opened
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not (
                    stat.S_ISREG(st.st_mode) and _private(st) and _private(os.stat(path.parent))
                ):
                    return None
                text = f.read().decode()
        else:
            text = path.read_text()
        data = json.loads(text)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically. Raises OSError; in the cache directory, writes nothing through
    a directory someone else made or can write (it would be read back, planted)."""
    if path.parent == cache_dir() and ensure_cache_dir() is None:
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)

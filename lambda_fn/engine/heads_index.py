"""The migration heads, remembered by the content of the revision files.

Finding the heads means Alembic imports every revision file; with 1,000 revisions that is most of an
"already at head" run. Hashing the files' bytes is far cheaper than importing them, and because the key is
the content, a remembered answer can never be stale: any edit changes the fingerprint.

Where the answer is remembered, first hit wins:
1. `alembic_hook_heads.json` next to env.py, written when the Lambda asset is built
   (`python -m lambda_fn.cli.manifest ALEMBIC_INI`), so even a cold start skips the imports;
2. a file per fingerprint in the temp directory (writable on Lambda too), for later runs on the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

MANIFEST = "alembic_hook_heads.json"


def fingerprint(version_dirs: Iterable[str | Path]) -> str:
    # os.walk and plain strings: pathlib's per-file overhead was most of the cost at 1,000 files
    digest = hashlib.sha256()
    for directory in sorted(str(d) for d in version_dirs):
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(root, directory)
            for name in sorted(f for f in files if f.endswith(".py")):
                with open(os.path.join(root, name), "rb") as f:
                    digest.update(f"{rel}/{name}".encode() + b"\0" + f.read() + b"\0")
    return digest.hexdigest()


def _cache_file(fp: str) -> Path:
    return Path(tempfile.gettempdir()) / "alembic-hook" / f"heads-{fp}.json"


def lookup(script_dir: str | Path, fp: str) -> tuple[str, ...] | None:
    for candidate in (Path(script_dir) / MANIFEST, _cache_file(fp)):
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("fingerprint") == fp and isinstance(data.get("heads"), list):
            return tuple(str(h) for h in data["heads"])
    return None


def remember(fp: str, heads: tuple[str, ...], path: Path | None = None) -> None:
    target = path or _cache_file(fp)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": fp, "heads": list(heads)}))
        tmp.replace(target)  # atomic: a concurrent reader sees the old file or the new one
    except OSError:
        pass  # a cache that cannot be written is only a slower next run

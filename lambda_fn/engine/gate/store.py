"""Lint records, keyed by the sha256 of the revision file: what squawk and the hook's checks said about one
revision's rendered SQL, before any judgement (no policy, no database, no acknowledgment in it).

Where a record is found, first hit wins:
1. `alembic_hook_lint.json` next to env.py, written when the Lambda asset is built
   (`python -m lambda_fn.cli.build_lint ALEMBIC_INI --write`): the function needs no squawk binary;
2. a file per lint profile in the temp directory, for later runs on the same machine (a laptop, CI).

A record is valid for one profile: the record format (which changes whenever the way SQL is rendered or linted
does) and the PostgreSQL version squawk lints for. The SQL is rendered by the hook's own offline context, not
through env.py (gate/render.py), so env.py's bytes are no part of it. The content key means a record can never
be stale: an edited revision is a new key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lambda_fn.engine import cache

LINT_MANIFEST = "alembic_hook_lint.json"
FORMAT = (
    3  # 2: rendered without the team's env.py; 3: every object created or renamed, not only tables
)


@dataclass(frozen=True)
class RawFinding:
    rule: str
    index: int  # the statement's index in the revision's chunk (-1: the revision as a whole)
    statement: str  # collapsed and cut
    tables: list[str]  # the relations it names, as written (the one it changes first)
    message: str
    line: int | None = None  # 1-based, in the revision's rendered SQL


@dataclass(frozen=True)
class LintRecord:
    revision: str
    rendered: bool  # False: the revision cannot be rendered offline (error says why)
    linted: bool  # False: no squawk binary here; only the hook's own checks ran
    findings: list[RawFinding] = field(default_factory=list)
    # (judge key, statement index): tables, indexes, sequences, views by normalised name; function:, type:,
    # constraint: for the others (sql.created_objects)
    created: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None
    # (old key, new key, statement index)
    renamed: list[tuple[str, str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LintRecord:
        return cls(
            revision=str(data["revision"]),
            rendered=bool(data["rendered"]),
            linted=bool(data["linted"]),
            findings=[RawFinding(**f) for f in data.get("findings", [])],
            created=[(str(t), int(i)) for t, i in data.get("created", [])],
            error=data.get("error"),
            renamed=[(str(a), str(b), int(i)) for a, b, i in data.get("renamed", [])],
        )


def profile(pg_version: str, *, autocommit: bool = False) -> str:
    # an AUTOCOMMIT project renders without transactions, so its verdicts differ for the same file
    return f"{FORMAT}|pg{pg_version}" + ("|autocommit" if autocommit else "")


def read_manifest(script_dir: str | Path, prof: str) -> dict[str, LintRecord]:
    return _read(Path(script_dir) / LINT_MANIFEST, prof)


def write_manifest(
    script_dir: str | Path, prof: str, records: dict[str, LintRecord], squawk_version: str
) -> Path:
    path = Path(script_dir) / LINT_MANIFEST
    _write(path, prof, records, {"squawk": squawk_version})
    return path


def _cache_file(prof: str, binary_identity: str) -> Path:
    digest = hashlib.sha256(f"{prof}|squawk:{binary_identity}".encode()).hexdigest()[:32]
    return cache.cache_dir() / f"lint-{digest}.json"  # private to this user, like the heads cache


def read_cache(prof: str, binary_identity: str) -> dict[str, LintRecord]:
    """The machine's lint records; none from an entry someone else could have planted."""
    data = cache.read_json(_cache_file(prof, binary_identity))
    return _records(data, prof) if data is not None else {}


def remember(prof: str, binary_identity: str, records: dict[str, LintRecord]) -> None:
    """Add records to the machine's cache (only complete ones: rendered or not, but linted)."""
    path = _cache_file(prof, binary_identity)
    if cache.ensure_cache_dir() is None:
        return  # a cache directory that is not this user's alone is neither read nor written
    merged = {**read_cache(prof, binary_identity), **{k: r for k, r in records.items() if r.linted}}
    with contextlib.suppress(OSError):  # a cache that cannot be written is only a slower next run
        _write(path, prof, merged, {})


def _read(path: Path, prof: str) -> dict[str, LintRecord]:
    data = cache.read_json(path, trusted=True)  # the build's manifest
    return _records(data, prof) if data is not None else {}


def _records(data: dict[str, Any], prof: str) -> dict[str, LintRecord]:
    try:
        if data.get("profile") != prof:
            return {}
        return {key: LintRecord.from_json(value) for key, value in data["revisions"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def _write(path: Path, prof: str, records: dict[str, LintRecord], extra: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "format": FORMAT,
        "profile": prof,
        **extra,
        "revisions": {key: records[key].to_json() for key in sorted(records)},
    }
    cache.write_json(path, json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n")

"""A lint record for every revision asked about: from the build's manifest or the machine's cache when they
hold it, otherwise rendered offline and linted here (squawk + the hook's checks), then cached."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from lambda_fn.engine.cache import file_sha256
from lambda_fn.engine.gate import checks, squawk, store
from lambda_fn.engine.gate.render import render, runs_in_autocommit
from lambda_fn.engine.gate.sql import (
    Chunk,
    Statement,
    collapse,
    created_objects,
    renamed_objects,
    tables,
)
from lambda_fn.engine.gate.store import LintRecord, RawFinding
from lambda_fn.findings import STATEMENT_LIMIT


@dataclass
class Sources:
    """Where the records came from, for the log and the benchmark."""

    manifest: int = 0
    cache: int = 0
    linted: list[str] = field(default_factory=list)
    squawk: str | None = None  # the binary used, when one was


def records(
    config: Config,
    script: ScriptDirectory,
    scripts: Sequence[Script],
    *,
    pg_version: str,
    timeout: float = 60.0,
    use_cache: bool = True,
) -> tuple[dict[str, LintRecord], Sources]:
    """{revision: record} for `scripts` (a contiguous range, in the order they apply)."""
    prof = store.profile(pg_version, autocommit=runs_in_autocommit(config, script))
    keys = {s.revision: file_sha256(s.path) for s in scripts}
    found: dict[str, LintRecord] = {}
    sources = Sources()
    manifest = store.read_manifest(script.dir, prof)
    for rev, key in keys.items():
        if key in manifest:
            found[rev] = _as(manifest[key], rev)
            sources.manifest += 1
    missing = [s for s in scripts if s.revision not in found]
    if not missing:
        return found, sources
    binary = squawk.find()
    identity = squawk.identity(binary) if binary else "none"
    if use_cache and binary:
        cache = store.read_cache(prof, identity)
        for s in missing:
            if keys[s.revision] in cache:
                found[s.revision] = _as(cache[keys[s.revision]], s.revision)
                sources.cache += 1
        missing = [s for s in missing if s.revision not in found]
    if not missing:
        return found, sources
    fresh = lint_now(
        config,
        script,
        scripts,
        {s.revision for s in missing},
        binary=binary,
        pg_version=pg_version,
        timeout=timeout,
    )
    sources.linted = [s.revision for s in missing]
    sources.squawk = binary
    found.update(fresh)
    if use_cache and binary:
        store.remember(prof, identity, {keys[rev]: record for rev, record in fresh.items()})
    return found, sources


def lint_now(
    config: Config,
    script: ScriptDirectory,
    scripts: Sequence[Script],
    wanted: set[str],
    *,
    binary: str | None,
    pg_version: str,
    timeout: float,
) -> dict[str, LintRecord]:
    """Render `scripts` (the range), then lint the revisions in `wanted`."""
    rendered = render(config, script, scripts, only=wanted)
    texts: dict[str, tuple[str, Chunk, list[int]]] = {}
    for rev, chunk in rendered.chunks.items():
        text, _statements, lines = chunk.text()
        texts[rev] = (text, chunk, lines)
    violations = (
        squawk.lint(
            binary, {rev: t[0] for rev, t in texts.items()}, pg_version=pg_version, timeout=timeout
        )
        if binary
        else {}
    )
    out: dict[str, LintRecord] = {}
    for rev in wanted:
        if rev in rendered.errors:
            out[rev] = LintRecord(
                rev, rendered=False, linted=binary is not None, error=rendered.errors[rev]
            )
            continue
        _text, chunk, lines = texts[rev]
        statements = chunk.normalised()
        hits = checks.check(statements)
        autocommit = {h.index for h in hits if h.rule == "hook:autocommit-without-concurrently"}
        findings = []
        for v in violations.get(rev, []):
            index = max(0, bisect.bisect_right(lines, v.line) - 1)
            if index in autocommit and v.rule in checks.SAME_AS_AUTOCOMMIT:
                continue  # said once, by the hook's sharper check
            message = v.message + (f" {v.help}" if v.help else "")
            findings.append(_raw(statements, lines, v.rule, index, message))
        findings += [_raw(statements, lines, h.rule, h.index, h.message) for h in hits]
        findings.sort(key=lambda f: (f.index, f.rule))
        created = [
            (key, i)
            for i, s in enumerate(statements)
            if not s.control
            for key in created_objects(s.sql)
        ]
        renamed = [
            (old, new, i)
            for i, s in enumerate(statements)
            if not s.control
            for old, new in renamed_objects(s.sql)
        ]
        out[rev] = LintRecord(
            rev,
            rendered=True,
            linted=binary is not None,
            findings=findings,
            created=created,
            renamed=renamed,
        )
    return out


def _raw(
    statements: list[Statement], lines: list[int], rule: str, index: int, message: str
) -> RawFinding:
    sql = statements[index].sql if 0 <= index < len(statements) else ""
    line = lines[index] + 1 if 0 <= index < len(lines) else None
    return RawFinding(rule, index, collapse(sql, STATEMENT_LIMIT), tables(sql), message, line)


def _as(record: LintRecord, revision: str) -> LintRecord:
    """A record found by content: the same bytes may carry another id only if copied; report the asked id."""
    if record.revision == revision:
        return record
    return LintRecord(
        revision,
        record.rendered,
        record.linted,
        record.findings,
        record.created,
        record.error,
        record.renamed,
    )

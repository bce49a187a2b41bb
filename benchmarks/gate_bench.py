"""The safety gate against baselines, in one run:

(a) lint of 1,000 pending revisions (mixed DDL), offline: rendered + squawk here (a laptop, CI, a cold
    cache), from the machine's cache, and from the build's alembic_hook_lint.json (what the function does);
    time per revision
(b) "already at head": the engine with the gate vs the same run with the gate module stubbed out (must be
    the same: no pending revision, no lint, no import), fast path and full path
(c) one pending example revision applied: with the gate (manifest hit, live judgement) vs --no-lint
(d) a 124-revision history (generated to look like a real application's: tables, columns, indexes, foreign
    keys, type changes, renames, backfills; no published 124-revision history is available offline here)
    upgraded from an EMPTY database: with the gate (judged live, records from the machine's cache) vs --no-lint
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from benchmarks.common import median_ms, table
from lambda_fn.deadline import Deadline
from lambda_fn.engine.execute import execute
from lambda_fn.log import logger
from lambda_fn.request import Command, Request
from lambda_fn.settings import Settings
from tests.support.database import Database, create_database
from tests.support.projects import Rev, write_project
from tools.localpg import LocalPostgres, throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
N = int(os.environ.get("BENCH_GATE_REVISIONS", "1000"))

SHAPES = [
    "op.create_table('t{i}', sa.Column('id', sa.BigInteger, primary_key=True), sa.Column('name', sa.Text))",
    "op.add_column('t{j}', sa.Column('c{i}', sa.Text))",
    "op.create_index('ix_t{j}_c{k}', 't{j}', ['c{k}'])",
    "op.execute(\"UPDATE t{j} SET name = 'x' WHERE id < 10\")",
    "with op.get_context().autocommit_block():\n    op.create_index('ix2_t{j}_c{k}', 't{j}', ['c{k}'], "
    "postgresql_concurrently=True, if_not_exists=True)",
]


def mixed(n: int) -> list[Rev]:
    revs: list[Rev] = []
    table_of = 0
    for i in range(n):
        shape = i % len(SHAPES)
        if shape == 0:
            table_of = i
        body = SHAPES[shape].format(i=i, j=table_of, k=table_of + 1)
        revs.append(Rev(f"m{i:04d}", revs[-1].id if revs else None, body))
    return revs


def lint_thousand() -> str:
    from lambda_fn.engine.gate import lint_records, store
    from lambda_fn.engine.gate.enforce import assess, select
    from lambda_fn.engine.project import AlembicProject

    root = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    ini = write_project(root, mixed(N))
    project = AlembicProject(str(ini))
    scripts = select(project, None)
    assert len(scripts) == N

    def cold() -> None:
        records, sources = lint_records.records(
            project.config, project.script, scripts, pg_version="14.0", use_cache=False
        )
        assert len(sources.linted) == N and len(records) == N

    def cached() -> None:
        _records, sources = lint_records.records(
            project.config, project.script, scripts, pg_version="14.0"
        )
        assert sources.cache == N, sources

    runs = max(3, RUNS // 2)
    cold_ms = median_ms(cold, runs)
    # fills the machine's cache
    lint_records.records(project.config, project.script, scripts, pg_version="14.0")
    cache_ms = median_ms(cached, runs)
    done = subprocess.run(
        [sys.executable, "-m", "lambda_fn.cli.build_lint", str(ini), "--write"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f'"revisions": {N}' in done.stdout, done.stdout
    manifest_bytes = (root / "migrations" / store.LINT_MANIFEST).stat().st_size
    # like the function: no binary, only the manifest
    os.environ["ALEMBIC_HOOK_SQUAWK"] = str(root / "none")
    try:
        manifest_ms = median_ms(lambda: assess(project, scripts), runs)
        findings = assess(project, scripts)
    finally:
        del os.environ["ALEMBIC_HOOK_SQUAWK"]
    per = [
        (f"rendered + squawk here (no cache): {cold_ms / N:.2f} ms/revision", cold_ms, None),
        (f"from the machine's cache: {cache_ms / N:.3f} ms/revision", cache_ms, cold_ms),
        (
            f"judged from alembic_hook_lint.json ({manifest_bytes / 1024:.0f} KB), no squawk binary: "
            f"{manifest_ms / N:.3f} ms/revision",
            manifest_ms,
            cold_ms,
        ),
    ]
    refused = sum(f.refused for f in findings)
    return table(
        f"(a) safety gate over {N} pending revisions, offline ({len(findings)} findings, {refused} "
        f"refused; medians of {runs})",
        per,
        "rendered + squawk",
    )


def at_head(pg: LocalPostgres) -> str:
    db = create_database(pg)
    settings = Settings.from_env(db.env())
    assert execute(Request(), settings).ok

    def go(fast: bool) -> None:
        result = execute(Request(), settings, deadline=Deadline(), fast=fast)
        assert result.ok and result.findings is None, result.message

    rows: list[tuple[str, float, float | None]] = []
    for fast in (True, False):
        path = "fast path" if fast else "full path (fast=False)"
        with_gate: list[float] = []
        without: list[float] = []
        for _ in range(3):  # interleaved blocks: drift on a noisy machine hits both sides alike
            with_gate.append(median_ms(functools.partial(go, fast), RUNS))
            real = sys.modules.get("lambda_fn.engine.gate.enforce")
            stub = types.ModuleType("lambda_fn.engine.gate.enforce")
            vars(stub)["enforce"] = lambda ctx, scripts: None
            sys.modules["lambda_fn.engine.gate.enforce"] = stub
            try:
                without.append(median_ms(functools.partial(go, fast), RUNS))
            finally:
                if real is None:
                    del sys.modules["lambda_fn.engine.gate.enforce"]
                else:
                    sys.modules["lambda_fn.engine.gate.enforce"] = real
        base = sorted(without)[1]
        rows.append((f"{path}, gate stubbed out", base, None))
        rows.append((f"{path}, with the gate", sorted(with_gate)[1], base))
    return table(
        '(b) "already at head" (example project): the gate\'s added cost, medians of 3 interleaved blocks '
        "(that no gate module is even imported is a test: tests/integration/test_gate_live.py)",
        rows,
        "gate stubbed out",
    )


def one_pending(pg: LocalPostgres) -> str:
    fresh: list[Database] = []

    def at_0004() -> None:
        db = create_database(pg)
        assert execute(Request(Command.UPGRADE, "0004_executions"), Settings.from_env(db.env())).ok
        fresh.append(db)

    def upgrade(skip: bool) -> None:
        request = Request(skip_lint="bench" if skip else None, skip_lint_confirmed=skip)
        result = execute(request, Settings.from_env(fresh[-1].env()), deadline=Deadline())
        assert result.ok and len(result.applied) == 1, result.message

    skipped = median_ms(lambda: upgrade(True), RUNS, setup=at_0004)
    gated = median_ms(lambda: upgrade(False), RUNS, setup=at_0004)
    return table(
        "(c) applying one pending revision (0005, example project; lint records from the machine's cache)",
        [
            ("`--no-lint` (gate skipped)", skipped, None),
            ("with the gate (judged live)", gated, skipped),
        ],
        "gate skipped",
    )


HISTORY = [
    "op.create_table('t{i}', sa.Column('id', sa.BigInteger, primary_key=True), sa.Column('name', sa.String(200)),"
    " sa.Column('owner_id', sa.BigInteger))",
    "op.add_column('t{j}', sa.Column('note', sa.Text))",
    "op.create_index('ix_t{j}_name', 't{j}', ['name'])",
    "op.create_foreign_key('fk_t{j}_owner', 't{j}', 't0', ['owner_id'], ['id'])",
    "op.alter_column('t{j}', 'name', type_=sa.String(500))",
    "op.execute(\"UPDATE t{j} SET note = 'n' WHERE id < 100\")",
    "op.drop_index('ix_t{j}_name', table_name='t{j}')",
    "op.alter_column('t{j}', 'note', nullable=False, server_default='')",
]


def history(n: int = 124) -> list[Rev]:
    revs: list[Rev] = []
    table_of = 0
    for i in range(n):
        shape = i % len(HISTORY)
        if shape == 0:
            table_of = i
        revs.append(
            Rev(f"h{i:04d}", revs[-1].id if revs else None, HISTORY[shape].format(i=i, j=table_of))
        )
    return revs


def run_gate(db: Database, ini: Path) -> list[Any]:
    result = execute(
        Request(Command.STATUS),
        Settings.from_env(db.env(ALEMBIC_CONFIG=str(ini))),
        deadline=Deadline(),
    )
    return list(result.findings or [])


def from_empty(pg: LocalPostgres) -> str:
    root = Path(tempfile.mkdtemp(prefix="bench-gate-history-"))
    revs = history()
    ini = write_project(root, revs)
    # to time a gate that would refuse this history (the old one)
    if os.environ.get("BENCH_HISTORY_REFUSE_NONE"):
        ini.write_text(ini.read_text() + "\n[alembic_hook]\nrefuse = none\n")
    fresh: list[Database] = []

    def empty() -> None:
        fresh.append(create_database(pg))

    def upgrade(skip: bool) -> None:
        request = Request(skip_lint="bench" if skip else None, skip_lint_confirmed=skip)
        result = execute(
            request, Settings.from_env(fresh[-1].env(ALEMBIC_CONFIG=str(ini))), deadline=Deadline()
        )
        assert result.ok and len(result.applied) == len(revs), result.message

    empty()
    # warms the machine's lint cache, as a second deploy of the same history would find it
    upgrade(False)
    runs = max(3, RUNS // 2)
    skipped = median_ms(lambda: upgrade(True), runs, setup=empty)
    gated = median_ms(lambda: upgrade(False), runs, setup=empty)
    fresh.append(create_database(pg))
    refused = [f for f in run_gate(fresh[-1], ini) if f.refused]
    return table(
        f"(d) {len(revs)}-revision generated history (refused from empty: {len(refused)}) upgraded from "
        f"an empty database (medians of {runs})",
        [
            ("`--no-lint` (gate skipped)", skipped, None),
            ("with the gate (judged live)", gated, skipped),
        ],
        "gate skipped",
    )


def main() -> int:
    logger.setLevel(logging.ERROR)  # the gate logs each skip and acknowledgment at WARNING
    print(f"Safety gate benchmarks: medians of {RUNS} runs unless said, one throwaway PostgreSQL.")
    with throwaway() as pg:
        print(lint_thousand(), flush=True)
        print(at_head(pg), flush=True)
        print(one_pending(pg), flush=True)
        print(from_empty(pg), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

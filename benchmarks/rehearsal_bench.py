"""The rehearsal's measurement overhead, in one run against one throwaway PostgreSQL:

N pending revisions (mixed DDL and a backfill on a table of ROWS rows) applied to a fresh copy (CREATE
DATABASE ... TEMPLATE, not timed) three ways, interleaved:

- `rehearse`: the recorder reads pg_locks after every statement that can lock a relation, one catalogue
  snapshot (relfilenodes, sizes) per revision, and the measurement is written to the target's ledger;
- the same `rehearse` with the recorder replaced by one that observes nothing (the baseline: the same engine
  path, the same two databases and refusals, minus the observation and its ledger write);
- `upgrade` of the copy itself (--no-lint, so no side runs the gate): what applying costs without a
  rehearsal at all, one database instead of two.

Target: the measurement's overhead, rehearse / rehearse unobserved, at most 1.2x for the mixed revisions (the
exit code). N trivial `SELECT 1` revisions show the fixed per-revision cost alone (one catalogue snapshot,
about 0.5 ms, on a revision that takes about 8 ms): printed, not gated, as it sits near 1.2x and this
machine's noise decides which side. The ratio to the plain upgrade is printed too, not gated.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import unittest.mock
import uuid
from pathlib import Path

import pg8000.native

from benchmarks.common import interleaved, markdown, ratio
from lambda_fn.deadline import Deadline
from lambda_fn.engine.execute import execute
from lambda_fn.engine.rehearsal import run as rehearsal_run
from lambda_fn.log import logger
from lambda_fn.request import Command, CopyDatabase, Request
from lambda_fn.result import Result
from lambda_fn.settings import Settings
from tests.support.database import Database
from tests.support.projects import Rev, write_project
from tools.localpg import SUPERUSER_PASSWORD, LocalPostgres, throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
N = int(os.environ.get("BENCH_REHEARSAL_REVISIONS", "20"))
ROWS = int(os.environ.get("BENCH_REHEARSAL_ROWS", "200000"))
TARGET = 1.2

BASE = Rev(
    "b0",
    None,
    f"op.execute('CREATE TABLE orders (id int PRIMARY KEY, note varchar(50), amount int)')\n"
    f"op.execute(\"INSERT INTO orders SELECT g, 'n' || g, g FROM generate_series(1, {ROWS}) g\")",
)
SHAPES = [
    "op.add_column('orders', sa.Column('c{i}', sa.Text))",
    "op.create_index('ix_orders_{i}', 'orders', ['amount'])",
    "op.execute(\"UPDATE orders SET note = 'u{i}' WHERE id % 50 = 0\")",
    "op.alter_column('orders', 'note', type_=sa.String({i} + 60))",
    "with op.get_context().autocommit_block():\n    op.create_index('ixc_orders_{i}', 'orders', ['id'], "
    "postgresql_concurrently=True)",
]


def revisions(n: int, trivial: bool) -> list[Rev]:
    ids = ["b0", *(f"p{i:03d}" for i in range(n))]
    body = (
        (lambda i: "op.execute('SELECT 1')")
        if trivial
        else (lambda i: SHAPES[i % len(SHAPES)].format(i=i))
    )
    return [BASE, *(Rev(ids[i + 1], ids[i], body(i)) for i in range(n))]


def _admin(pg: LocalPostgres) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        "postgres", password=SUPERUSER_PASSWORD, host=pg.host, port=pg.port
    )


def clone(pg: LocalPostgres, template: str) -> Database:
    name = f"b_{uuid.uuid4().hex[:12]}"
    conn = _admin(pg)
    try:
        conn.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d", d=template
        )
        conn.run(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        conn.close()
    return Database(pg, name)


def drop(pg: LocalPostgres, db: Database) -> None:
    conn = _admin(pg)
    try:
        conn.run(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
    finally:
        conn.close()


def _upgrade(env: dict[str, str], revision: str | None = None) -> Result:
    request = Request(
        Command.UPGRADE, revision, skip_lint="benchmark baseline", skip_lint_confirmed=True
    )
    return execute(request, Settings.from_env(env), deadline=Deadline(600))


class Unobserved:
    """The recorder's interface, observing nothing: `rehearse` minus the measurement."""

    def __init__(self, conn: object, sha_of: object) -> None:
        self.measures: list[object] = []

    def __enter__(self) -> Unobserved:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def observe(self, step: object) -> None:
        return None

    def version_applied(self, step: object) -> None:
        return None


def pair(pg: LocalPostgres, root: Path, trivial: bool) -> dict[str, float]:
    ini = write_project(root, revisions(N, trivial))
    template = clone(pg, "template1")
    assert _upgrade(
        template.env(ALEMBIC_CONFIG=str(ini)), "b0"
    ).ok  # the template: at b0, the table filled
    template.query("ANALYZE orders")
    target = clone(pg, template.name)
    env = target.env(ALEMBIC_CONFIG=str(ini))

    def timed(run: object) -> float:
        copy = clone(pg, template.name)
        try:
            began = time.perf_counter()
            result = run(copy)  # type: ignore[operator]
            took = (time.perf_counter() - began) * 1000
            assert result.ok and copy.version() == [f"p{N - 1:03d}"], result.message
            return took
        finally:
            drop(pg, copy)

    def rehearse(copy: Database) -> Result:
        request = Request(Command.REHEARSE, copy=CopyDatabase(url=copy.url, kind="template"))
        # the policy would refuse a long rehearsal: this measures the overhead, not the verdict
        result = execute(request, Settings.from_env(env), deadline=Deadline(600))
        if result.error is not None and result.error.kind == "unsafe_migration":
            result.status = result.status.OK
        return result

    def unobserved(copy: Database) -> Result:
        with unittest.mock.patch.object(rehearsal_run, "Recorder", Unobserved):
            return rehearse(copy)

    medians = interleaved(
        {
            "rehearse": lambda: timed(rehearse),
            "unobserved": lambda: timed(unobserved),
            "plain": lambda: timed(lambda copy: _upgrade(copy.env(ALEMBIC_CONFIG=str(ini)))),
        },
        RUNS,
    )
    for db in (target, template):
        drop(pg, db)
    return medians


def main() -> int:
    logger.setLevel(logging.ERROR)
    print(
        f"Rehearsal benchmark: {N} pending revisions on a fresh copy each run, medians of {RUNS} interleaved "
        "runs, one throwaway PostgreSQL."
    )
    rows = []
    code = 0
    with throwaway() as pg, tempfile.TemporaryDirectory() as tmp:
        for label, trivial in (
            (f"mixed DDL + backfill, {ROWS} rows (target <= {TARGET}x)", False),
            ("trivial SELECT 1 revisions (fixed per-revision cost alone; not gated)", True),
        ):
            m = pair(pg, Path(tmp) / ("trivial" if trivial else "mixed"), trivial)
            rows.append(
                [
                    label,
                    f"{m['unobserved']:.0f}",
                    f"{m['rehearse']:.0f}",
                    ratio(m["rehearse"], m["unobserved"]),
                    f"{m['plain']:.0f}",
                    ratio(m["rehearse"], m["plain"]),
                ]
            )
            if not trivial and m["rehearse"] / m["unobserved"] > TARGET:
                code = 1
    print(
        markdown(
            "the measurement's overhead (ms)",
            [
                "revisions",
                "rehearse unobserved (baseline)",
                "rehearse",
                "overhead",
                "plain upgrade of the copy",
                "rehearse vs plain",
            ],
            rows,
        )
    )
    if code:
        print(f"\nrehearsal overhead above the {TARGET}x target", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

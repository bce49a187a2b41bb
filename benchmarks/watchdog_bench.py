"""`python -m benchmarks.watchdog_bench`: the watchdog (engine/watchdog.py, issue 18 point 2).

1. How long after its deadline a run whose revision loops in Python is answered (the stop: fence, cut,
   terminate, read back), against the deadline itself, medians of a few runs: the stop must fit STOP_SECONDS
   of the reporting margin.
2. The cost of the watched path (a worker thread) for an ordinary run, against the same run inline (no
   deadline), interleaved on fresh databases.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import interleaved, markdown
from lambda_fn.cli import build_lint
from lambda_fn.deadline import STOP_SECONDS, Deadline
from lambda_fn.engine import watchdog
from lambda_fn.engine.execute import execute
from lambda_fn.log import logger
from lambda_fn.request import Command, Request
from lambda_fn.settings import Settings
from tests.support.database import Database, create_database
from tests.support.projects import Rev, write_project
from tools.localpg import throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DEADLINE = 4.0
LOOP = """
import time
op.execute('CREATE TABLE looped (n int)')
if not op.get_context().as_sql:
    for n in range(2000):
        op.execute(f'INSERT INTO looped VALUES ({n})')
        time.sleep(0.02)
"""


def _settings(db: Database, ini: Path) -> Settings:
    return Settings.from_env(db.env(ALEMBIC_CONFIG=str(ini), DB_LOCK_TIMEOUT_SECONDS="1"))


def stop_after_deadline(cluster: object, root: Path) -> list[list[str]]:
    ini = write_project(
        root / "loop", [Rev("w0", None, "op.execute('SELECT 1')"), Rev("w1", "w0", LOOP)]
    )
    assert build_lint.main([str(ini), "--write"]) == 0
    lateness = []
    for _ in range(RUNS):
        db = create_database(cluster)  # type: ignore[arg-type]
        began = time.monotonic()
        result = execute(Request(Command.UPGRADE), _settings(db, ini), deadline=Deadline(DEADLINE))
        lateness.append(time.monotonic() - began - DEADLINE)
        assert result.error is not None and result.error.kind.value == "deadline", result.message
        for thread in list(watchdog._unfinished):
            thread.join(60)
    median = statistics.median(lateness)
    return [
        [
            "answer after the engine's deadline (s)",
            f"{median:.2f}",
            f"{max(lateness):.2f}",
            f"{STOP_SECONDS:.1f}",
        ]
    ]


def watched_overhead(cluster: object, root: Path) -> list[list[str]]:
    ini = write_project(
        root / "plain",
        [Rev(f"p{i}", f"p{i - 1}" if i else None, "op.execute('SELECT 1')") for i in range(5)],
    )

    def once(deadline: float | None) -> float:
        db = create_database(cluster)  # type: ignore[arg-type]
        began = time.perf_counter()
        result = execute(Request(Command.UPGRADE), _settings(db, ini), deadline=Deadline(deadline))
        assert result.ok, result.message
        return (time.perf_counter() - began) * 1000

    medians = interleaved({"inline": lambda: once(None), "watched": lambda: once(60.0)}, RUNS)
    return [
        ["upgrade 5 revisions, inline (baseline) ms", f"{medians['inline']:.1f}", "1.00x", ""],
        [
            "upgrade 5 revisions, watched ms",
            f"{medians['watched']:.1f}",
            f"{medians['watched'] / medians['inline']:.2f}x",
            "",
        ],
    ]


def main() -> int:
    logger.setLevel(logging.CRITICAL)
    print(f"Watchdog benchmarks: medians of {RUNS} runs, one throwaway PostgreSQL.")
    with throwaway() as pg, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(
            markdown(
                f"Stop at the deadline ({DEADLINE:g} s, a revision looping in Python)",
                ["what", "median", "max", "budget"],
                stop_after_deadline(pg, root),
            ),
            flush=True,
        )
        print(
            markdown(
                "Watched path against inline",
                ["what", "median", "vs inline", ""],
                watched_overhead(pg, root),
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

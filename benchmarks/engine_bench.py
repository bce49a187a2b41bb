"""The engine against baselines, in one run on one throwaway PostgreSQL:

(a) "already at head": the engine (in process, and as the `alembic-hook` CLI) vs `alembic current`
(w) warm "already at head" in process vs ONE bare pg8000 connect + SELECT of the version table + close
(b) applying the five example migrations vs `alembic upgrade head`
(c) "already at head" with 10 vs 1,000 trivial revisions (heads index hit, and a miss: first run, no manifest)
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pg8000.native

from benchmarks.common import interleaved, markdown, median_ms, ratio, table
from lambda_fn.cli import build_heads
from lambda_fn.engine import heads_manifest
from lambda_fn.log import logger
from lambda_fn.result import Result
from tests.support.database import ALEMBIC_INI, Database, create_database
from tests.support.engine import run
from tests.support.projects import chain, write_project
from tools.localpg import SUPERUSER, SUPERUSER_PASSWORD, LocalPostgres, throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
BIN = Path(sys.executable).parent


def _alembic(db: Database, *args: str, ini: str = ALEMBIC_INI) -> None:
    # stock pg8000 fails on the CONCURRENTLY revision (see lambda_fn/postgres/dialect.py), so the baseline uses
    # the same fixed dialect through its entry point; it reads libpq's sslmode (verify-full when absent) and
    # the throwaway PostgreSQL serves no TLS
    url = db.url.replace("postgresql://", "postgresql+pg8000_hook://", 1)
    env = {**os.environ, "ALEMBIC_DATABASE_URL": url}
    subprocess.run(
        [str(BIN / "alembic"), "-c", ini, *args], env=env, check=True, capture_output=True
    )


def _hook_cli(db: Database, *args: str) -> None:
    env = {**os.environ, **db.env()}
    subprocess.run([str(BIN / "alembic-hook"), *args], env=env, check=True, capture_output=True)


def _engine(db: Database, env: dict[str, str] | None = None) -> None:
    result = run(env or db.env())
    assert result.ok, result.message


def _timed(fn: Callable[[], object]) -> Callable[[], float]:
    def measure() -> float:
        began = time.perf_counter()
        fn()
        return (time.perf_counter() - began) * 1000

    return measure


def at_head(pg: LocalPostgres) -> str:
    db = create_database(pg)
    _engine(db)
    engine = median_ms(lambda: _engine(db), RUNS * 2)
    processes = interleaved(
        {
            "cli": _timed(lambda: _hook_cli(db, "upgrade")),
            "alembic": _timed(lambda: _alembic(db, "current")),
        },
        RUNS,
    )
    cli, alembic_current = processes["cli"], processes["alembic"]
    return table(
        '(a) "already at head" (example project, 5 revisions)',
        [
            ("`alembic current` (command-line process)", alembic_current, None),
            ("`alembic-hook upgrade` (command-line process)", cli, alembic_current),
            ("engine `upgrade`, in process (a warm Lambda invocation)", engine, alembic_current),
        ],
        "`alembic current`",
    )


def warm(pg: LocalPostgres) -> str:
    """The engine's whole warm run against the least any "already at head" check can do: one connection,
    one SELECT, closed (no TLS on either side; the same superuser and database)."""
    db = create_database(pg)
    env = db.env()
    secret = json.dumps(
        {
            "username": SUPERUSER,
            "password": SUPERUSER_PASSWORD,
            "host": pg.host,
            "port": pg.port,
            "dbname": db.name,
        }
    )
    secret_env = {
        "DB_SECRET_ARN": "bench-secret",
        "DB_SSLMODE": "disable",
        "ALEMBIC_CONFIG": env["ALEMBIC_CONFIG"],
    }

    def cached(secret_id: str, force: bool) -> str:  # a Powertools (or extension) cache hit
        return secret

    def bare() -> None:
        conn = pg8000.native.Connection(
            SUPERUSER,
            host=pg.host,
            port=pg.port,
            database=db.name,
            password=SUPERUSER_PASSWORD,
            ssl_context=False,
        )
        conn.run("SELECT version_num FROM alembic_version")
        conn.close()

    _engine(db)  # applies; then one warm-up run of each below
    measures = {
        "bare": _timed(bare),
        "url": _timed(lambda: _engine(db, env)),
        "secret": _timed(lambda: _assert_ok(run(secret_env, read_secret=cached))),
    }
    interleaved(measures, 1)
    ms = interleaved(measures, RUNS * 4)
    base = ms["bare"]
    return markdown(
        '(w) warm "already at head", in process (a warm Lambda invocation\'s engine)',
        ["what", "median ms", "vs one bare pg8000 round trip"],
        [
            [
                "one bare pg8000 connect + `SELECT version_num FROM alembic_version` + close",
                f"{base:.1f}",
                "1.00x (baseline)",
            ],
            ["engine `upgrade`, DATABASE_URL", f"{ms['url']:.1f}", ratio(ms["url"], base)],
            [
                "engine `upgrade`, DB_SECRET_ARN (the secret from the reader's cache)",
                f"{ms['secret']:.1f}",
                ratio(ms["secret"], base),
            ],
        ],
    )


def _assert_ok(result: Result) -> None:
    assert result.ok, result.message


def apply(pg: LocalPostgres) -> str:
    fresh: list[Database] = []

    def new_db() -> None:
        fresh.append(create_database(pg))

    alembic_up = median_ms(lambda: _alembic(fresh[-1], "upgrade", "head"), RUNS, setup=new_db)
    cli = median_ms(lambda: _hook_cli(fresh[-1], "upgrade"), RUNS, setup=new_db)
    engine = median_ms(lambda: _engine(fresh[-1]), RUNS, setup=new_db)
    return table(
        "(b) applying the 5 example migrations to an empty database",
        [
            ("`alembic upgrade head` (command-line process)", alembic_up, None),
            ("`alembic-hook upgrade` (command-line process)", cli, alembic_up),
            ("engine `upgrade`, in process", engine, alembic_up),
        ],
        "`alembic upgrade head`",
    )


def history(pg: LocalPostgres) -> str:
    """At head with 10 vs 1,000 revisions: on a laptop or CI (the files are fingerprinted, a stat walk once
    memoised), from a deployed package (the build's manifest is trusted: /var/task is read-only), and on a
    manifest miss (Alembic imports every revision file)."""
    measured: dict[tuple[int, str], float] = {}
    for n in (10, 1000):
        root = Path(tempfile.mkdtemp(prefix=f"bench-{n}-"))
        ini = write_project(root, chain(n))
        db = create_database(pg)
        env = db.env(ALEMBIC_CONFIG=str(ini))
        _engine(db, env)
        again = functools.partial(_engine, db, env)
        measured[(n, "hit")] = median_ms(again, RUNS * 2)
        assert build_heads.main([str(ini), "--write"]) == 0  # what the bundler ships next to env.py
        with _deployed(root):
            again()
            measured[(n, "deployed")] = median_ms(again, RUNS * 2)
        fp = heads_manifest.fingerprint([root / "migrations" / "versions"])
        (root / "migrations" / heads_manifest.HEADS_MANIFEST).unlink()

        def forget(fp: str = fp) -> None:
            heads_manifest._cache_file("heads", fp).unlink(missing_ok=True)
            heads_manifest._heads_hits.clear()  # and this process's memo: a new process would miss too

        measured[(n, "miss")] = median_ms(again, RUNS, setup=forget)
    rows: list[tuple[str, float, float | None]] = []
    for kind, label in (
        ("hit", "laptop/CI, manifest or cache hit"),
        ("deployed", "deployed package (Lambda)"),
        ("miss", "manifest miss (imports every revision file)"),
    ):
        base = measured[(10, kind)]
        rows.append((f"10 revisions, {label}", base, None))
        rows.append((f"1,000 revisions, {label}", measured[(1000, kind)], base))
    return table(
        '(c) "already at head" through the engine vs the size of the history (each 1,000 row against '
        "the 10 row above it)",
        rows,
        "10 revisions",
    )


@contextmanager
def _deployed(root: Path) -> Iterator[None]:
    """The environment of a Lambda function whose package holds the project."""
    saved = {k: os.environ.get(k) for k in ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME")}
    os.environ.update(LAMBDA_TASK_ROOT=str(root), AWS_LAMBDA_FUNCTION_NAME="bench")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> int:
    logger.setLevel(logging.WARNING)
    print(
        f"Engine benchmarks: medians of {RUNS} runs (in-process rows: {RUNS * 2}), one throwaway PostgreSQL."
    )
    with throwaway() as pg:
        for section in (at_head, warm, apply, history):
            print(section(pg), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

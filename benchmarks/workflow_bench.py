"""The migration workflow (infra/workflow), executed locally as its tests execute it: the definitions of a
synthesized test app run by moto's Step Functions interpreter, the real handler behind a local Lambda endpoint,
real PostgreSQL databases on one throwaway cluster.

(a) fan-out: twelve databases (two revisions each, 0.4 s of database time apiece: migrations wait on the
    database far more than they compute) through the Distributed Map at MaxConcurrency 1 and 4, each with that
    many runtime processes of the real handler (``awslambdaric``), warmed by one invocation: execution wall
    time, and the ratio, which is the point;
(b) the loop's overhead per iteration: thirty revisions (0.15 s of SQL each) with a 3-second budget, the
    execution's wall time against the time spent inside the invocations, and against the same invocations made
    by a plain loop calling the handler (no Step Functions). What (b) measures is moto's interpreter and the
    local endpoint, not AWS's state transitions (typically tens of milliseconds each, per AWS's own figures).

``BENCH_RUNS`` (default 3) runs of each, interleaved.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import markdown
from tests.support.database import create_database
from tests.support.inprocess import FakeContext
from tests.support.lambda_service import RuntimePool
from tests.support.moto_secrets import moto_server
from tests.support.projects import Rev
from tests.support.workflow_rig import HOOK, LOCAL_SETTINGS, asset_project, workflow_rig
from tests.support.workflow_stacks import SECRET_PREFIX, TARGETS_BUCKET, TARGETS_KEY, build_app
from tools.localpg import LocalPostgres, throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
FLEET = 12
DATABASE_BOUND = "op.execute('SELECT pg_sleep(0.4)')\nop.execute('CREATE TABLE {table} (id int)')"
SLOW = "import time\nop.execute('SELECT 1')\nif not op.get_context().as_sql:\n    time.sleep(0.15)"


def fan_out(pg: LocalPostgres, templates: dict[str, Any], endpoint: str, work: Path) -> str:
    asset = asset_project(
        work / "fleet",
        [
            Rev("f1", None, DATABASE_BOUND.format(table="f1")),
            Rev("f2", "f1", DATABASE_BOUND.format(table="f2")),
        ],
    )
    samples: dict[int, list[tuple[float, float, int]]] = {1: [], 4: []}
    for _ in range(RUNS):
        for concurrency, runs in samples.items():
            with workflow_rig(
                templates[f"WorkflowFleet{concurrency}"],
                asset,
                moto_endpoint=endpoint,
                port=pg.port,
                pool=concurrency,
            ) as rig:
                databases = [create_database(pg) for _ in range(FLEET)]
                targets = [
                    {"secret_arn": rig.secret_for(db, f"{SECRET_PREFIX}{db.name}"), "id": db.name}
                    for db in databases
                ]
                rig.s3.create_bucket(Bucket=TARGETS_BUCKET)
                rig.s3.put_object(
                    Bucket=TARGETS_BUCKET, Key=TARGETS_KEY, Body=json.dumps(targets).encode()
                )
                pool = rig.lambdas.functions[HOOK]
                assert isinstance(pool, RuntimePool)
                warm_up = rig.secret_for(
                    create_database(pg), f"warm/{concurrency}/{time.time_ns()}"
                )
                pool.warm(concurrency, {"command": "status", "database": {"secret_arn": warm_up}})
                began = time.perf_counter()
                execution = rig.run({"snapshot": False})
                wall = time.perf_counter() - began
                assert execution.status == "SUCCEEDED" and execution.output["applied"] == FLEET, (
                    execution.cause
                )
                inside = sum(c.finished - c.started for c in rig.lambdas.calls(HOOK))
                runs.append((wall, inside, rig.lambdas.max_active[HOOK]))
    rows = []
    base = statistics.median(s[0] for s in samples[1])
    for concurrency, runs in samples.items():
        wall = statistics.median(s[0] for s in runs)
        inside = statistics.median(s[1] for s in runs)
        rows.append(
            [
                f"MaxConcurrency {concurrency} ({concurrency} warm runtime(s))",
                f"{wall:.2f}",
                f"{inside:.2f}",
                str(max(s[2] for s in runs)),
                f"{base / wall:.2f}x",
            ]
        )
    return markdown(
        f"(a) fan-out: {FLEET} databases, two revisions of 0.4 s each; medians of {RUNS} runs",
        ["run", "wall s", "inside invocations s", "most at once", "speed-up vs 1"],
        rows,
    )


def loop(pg: LocalPostgres, templates: dict[str, Any], endpoint: str, work: Path) -> str:
    from lambda_fn import handler

    ids = [f"p{i:02d}" for i in range(30)]
    asset = asset_project(
        work / "loop", [Rev(rid, ids[i - 1] if i else None, SLOW) for i, rid in enumerate(ids)]
    )
    workflow: list[tuple[float, float, int]] = []
    direct: list[tuple[float, int]] = []
    for _ in range(RUNS):
        with workflow_rig(
            templates["WorkflowOne"], asset, moto_endpoint=endpoint, port=pg.port
        ) as rig:
            rig.use_hook_secret(create_database(pg))
            began = time.perf_counter()
            execution = rig.run({"snapshot": False})
            wall = time.perf_counter() - began
            calls = rig.lambdas.calls(HOOK)
            assert execution.status == "SUCCEEDED", execution.cause
            workflow.append((wall, sum(c.finished - c.started for c in calls), len(calls)))
            # the baseline: the same budgeted invocations, made by a plain loop (same process, same settings)
            secret = rig.secret_for(create_database(pg), "direct/db")
            payload = {
                "command": "upgrade",
                "partial": True,
                "budget_seconds": 3,
                "snapshot": "",
                "database": {"secret_arn": secret, "host": "", "name": ""},
            }
            began, invocations = time.perf_counter(), 0
            for _ in range(60):
                invocations += 1
                if handler.handler(payload, FakeContext())["status"] != "partial":
                    break
            direct.append((time.perf_counter() - began, invocations))
    wall = statistics.median(w[0] for w in workflow)
    inside = statistics.median(w[1] for w in workflow)
    iterations = statistics.median(w[2] for w in workflow)
    plain = statistics.median(d[0] for d in direct)
    plain_iterations = statistics.median(d[1] for d in direct)
    rows = [
        [
            "workflow (moto's interpreter, local endpoint)",
            f"{wall:.2f}",
            f"{iterations:g}",
            f"{(wall - inside) / iterations * 1000:.0f}",
        ],
        [
            "plain loop over the handler (no Step Functions)",
            f"{plain:.2f}",
            f"{plain_iterations:g}",
            "-",
        ],
        ["difference per iteration", "", "", f"{(wall - plain) / iterations * 1000:.0f}"],
    ]
    return markdown(
        f"(b) the loop: 30 revisions x 0.15 s, 3-second budget; medians of {RUNS} runs",
        ["run", "wall s", "iterations", "overhead per iteration ms"],
        rows,
    )


def main() -> int:
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("moto", "werkzeug", "botocore", "alembic"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    for key, value in LOCAL_SETTINGS.items():
        os.environ.setdefault(key, value)
    print(
        f"Migration workflow benchmarks: medians of {RUNS} runs, one throwaway PostgreSQL, moto's Step Functions."
    )
    with (
        tempfile.TemporaryDirectory(prefix="workflow-bench-") as tmp,
        throwaway() as pg,
        moto_server() as endpoint,
    ):
        work = Path(tmp)
        templates = build_app(
            work / "cdk.out", fleet_concurrency=(1, 4), inline=False, rehearsal=False
        )
        print(fan_out(pg, templates, endpoint, work), flush=True)
        print(loop(pg, templates, endpoint, work), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

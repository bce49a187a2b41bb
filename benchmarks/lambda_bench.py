"""The Lambda function through the real runtime client (awslambdaric) and a local Runtime API, from the
bundle's layout (lambda_fn/ + migrations/ + the bundled dependencies at the task root, bytecode compiled
unchecked-hash as the bundler ships it; boto3 and the runtime client beside it, as the runtime has them).

(d) cold start: a fresh runtime process, from its start to the answer of a first "already at head"
    invocation (import, init, secret, database); baseline: the same runtime client with a no-op handler.
(e) warm invocations, "already at head", through the Runtime API, per caller; baseline: the no-op handler.

Run: `python -m benchmarks.lambda_bench` (BENCH_RUNS=7 by default).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import table
from tests.support.bundle_layout import Bundle, build_bundle
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.database import create_database
from tests.support.events import cloudformation_event, codepipeline_event
from tests.support.lambda_runtime import LambdaProcess, RuntimeApi, lambda_env
from tests.support.moto_secrets import moto_server, secrets_client
from tests.support.response_recorder import ResponseRecorder
from tools.localpg import SUPERUSER_PASSWORD, LocalPostgres, throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
NOOP = "noop_handler.handler"


@contextmanager
def function(bundle: Bundle, env: dict[str, str], handler: str = "lambda_fn.handler.handler") -> Iterator[
        tuple[RuntimeApi, LambdaProcess]]:
    api = RuntimeApi()
    process = LambdaProcess(api, bundle, lambda_env(bundle, api.address, **env), handler=handler)
    try:
        yield api, process
    finally:
        process.stop()
        api.close()


def invoke_ok(api: RuntimeApi, process: LambdaProcess, event: Any) -> None:
    reply = api.invoke(event)
    if reply.kind != "response":
        raise RuntimeError(f"invocation failed: {reply.body}\n{process.output[-3000:]}")


def cold_ms(bundle: Bundle, env: dict[str, str], runs: int, handler: str = "lambda_fn.handler.handler") -> float:
    """Process start -> first answer, median over fresh processes."""
    samples = []
    for _ in range(runs):
        # a new execution environment starts with an empty /tmp
        with tempfile.TemporaryDirectory() as tmp, function(bundle, {**env, "TMPDIR": tmp}, handler) as (api, process):
            invoke_ok(api, process, {})
            samples.append((time.perf_counter() - process.started) * 1000)
    return statistics.median(samples)


def warm_ms(bundle: Bundle, env: dict[str, str], make_event: Callable[[], Any], runs: int,
            handler: str = "lambda_fn.handler.handler") -> float:
    """Median of warm invocations in one execution environment (after one to warm it)."""
    with function(bundle, env, handler) as (api, process):
        invoke_ok(api, process, make_event())
        samples = []
        for _ in range(runs):
            began = time.perf_counter()
            invoke_ok(api, process, make_event())
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def _secret(moto_url: str, pg: LocalPostgres, database: str) -> str:
    client = secrets_client(moto_url)
    value = {"username": "postgres", "password": SUPERUSER_PASSWORD, "host": pg.host, "port": pg.port,
             "dbname": database, "engine": "postgres"}
    return str(client.create_secret(Name=f"bench-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))["ARN"])


def run() -> str:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    with throwaway() as pg, tempfile.TemporaryDirectory(prefix="lambda-bench-") as tmp:
        bundle = build_bundle(Path(tmp) / "bundle")
        no_bytecode = build_bundle(Path(tmp) / "plain", bytecode=False)
        for b in (bundle, no_bytecode):
            (b.task_root / "noop_handler.py").write_text("def handler(event, context):\n    return {}\n")
        with moto_server() as moto_url:
            pipeline, responses = CodePipelineRecorder(), ResponseRecorder()
            try:
                db = create_database(pg)
                base = {"DB_SSLMODE": "disable", "POWERTOOLS_TRACE_DISABLED": "true",
                        "AWS_ENDPOINT_URL_CODEPIPELINE": pipeline.url}
                with_secret = {**base, "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
                               "DB_SECRET_ARN": _secret(moto_url, pg, db.name)}
                with_url = {**base, "DATABASE_URL": db.url}
                with function(bundle, with_url) as (api, process):
                    invoke_ok(api, process, {})  # migrate to head once: every measured run is "already at head"

                fewer = max(3, RUNS // 2)
                noop_cold = cold_ms(bundle, base, RUNS, NOOP)
                cold = table("(d) cold start through the runtime client: process start -> first answer", [
                    ("awslambdaric + no-op handler (the floor)", noop_cold, None),
                    ("hook, already at head, DB_SECRET_ARN (Secrets Manager, as deployed)",
                     cold_ms(bundle, with_secret, RUNS), noop_cold),
                    ("hook, already at head, DATABASE_URL (no boto3 on the path)", cold_ms(bundle, with_url, RUNS),
                     noop_cold),
                    (f"hook, already at head, DB_SECRET_ARN, WITHOUT shipped bytecode ({fewer} runs)",
                     cold_ms(no_bytecode, with_secret, fewer), noop_cold),
                ], "no-op handler")

                warm_runs = RUNS * 3
                noop_warm = warm_ms(bundle, base, lambda: {}, warm_runs, NOOP)
                warm = table("(e) warm invocation through the runtime client, already at head", [
                    ("awslambdaric + no-op handler (Runtime API round trip)", noop_warm, None),
                    ("direct `{}` (CDK Trigger, operator)", warm_ms(bundle, with_secret, lambda: {}, warm_runs),
                     noop_warm),
                    ("CodePipeline job (+ PutJobSuccessResult)",
                     warm_ms(bundle, with_secret, lambda: codepipeline_event(str(uuid.uuid4())), warm_runs), noop_warm),
                    ("CloudFormation Update (+ PUT to ResponseURL)",
                     warm_ms(bundle, with_secret, lambda: cloudformation_event("Update", responses.new_url(),
                                                                              physical_id="p"), warm_runs), noop_warm),
                ], "no-op handler")
            finally:
                pipeline.close()
                responses.close()
    return cold + "\n" + warm


def main() -> int:
    print(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Lambda function through the real runtime client (awslambdaric) and a local Runtime API, from the
bundle's layout (lambda_fn/ + migrations/ + the bundled dependencies at the task root, bytecode compiled
unchecked-hash as the bundler ships it; boto3 and the runtime client beside it, as the runtime has them).

(d) cold start: a fresh runtime process, from its start to the answer of a first "already at head"
    invocation (import, init, secret, database), and its peak RSS (VmHWM) right after that answer;
    baseline: the NAIVE handler a team writes first (boto3, Powertools, SQLAlchemy, Alembic imported at
    init; the secret read with boto3; `alembic.command.upgrade(cfg, "head")`). Samples are taken in rounds
    (one of each configuration per round), so a slow stretch of a shared machine weighs on all alike.
(e) warm invocations, "already at head", through the Runtime API, per caller; baselines: the no-op handler,
    and one bare pg8000 connect + SELECT of the version table + close, measured in the same run.
(f) what reading the secret adds to a cold start, one way or another: timed inside fresh processes that
    have imported `lambda_fn.handler` (what init loads anyway).

The Parameters and Secrets extension is played by a local endpoint (tests/support/secrets_extension.py)
that asks moto for the secret on every request: a new execution environment starts with an empty extension
cache, so a cold start pays the extension's GetSecretValue call, as it pays the SDK's.

Run: `python -m benchmarks.lambda_bench` (BENCH_RUNS=7 by default).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pg8000.native

from benchmarks.common import markdown, ratio
from tests.support.bundle_layout import Bundle, build_bundle
from tests.support.codepipeline_recorder import CodePipelineRecorder
from tests.support.database import create_database
from tests.support.events import cloudformation_event, codepipeline_event
from tests.support.lambda_runtime import LambdaProcess, RuntimeApi, lambda_env
from tests.support.moto_secrets import moto_server, secrets_client
from tests.support.response_recorder import ResponseRecorder
from tests.support.secrets_extension import SecretsExtension, from_secrets_manager
from tools.localpg import SUPERUSER, SUPERUSER_PASSWORD, LocalPostgres, throwaway

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
HOOK = "lambda_fn.handler.handler"
NOOP = "noop_handler.handler"
NAIVE = "naive_handler.handler"
NAIVE_SOURCE = """\
\"\"\"The naive migration handler, the cold-start baseline: what a team writes first.\"\"\"
import json
import os

import boto3
from alembic import command
from alembic.config import Config
from aws_lambda_powertools import Logger
from sqlalchemy import URL
from sqlalchemy.dialects import registry

# The fixed pg8000 dialect (stock pg8000 fails on the example's CONCURRENTLY revision). Installed with pip it
# is the `postgresql.pg8000_hook` entry point; the bundle carries no installed metadata, so it is named here.
registry.register("postgresql.pg8000_hook", "lambda_fn.postgres.dialect", "HookPg8000Dialect")

logger = Logger()
secrets = boto3.client("secretsmanager")
ROOT = os.environ["LAMBDA_TASK_ROOT"]


@logger.inject_lambda_context
def handler(event, context):
    secret = json.loads(secrets.get_secret_value(SecretId=os.environ["DB_SECRET_ARN"])["SecretString"])
    url = URL.create("postgresql+pg8000_hook", username=secret["username"], password=secret["password"],
                     host=secret["host"], port=int(secret["port"]), database=secret["dbname"],
                     query={"sslmode": os.environ.get("DB_SSLMODE", "verify-full")})
    os.environ["ALEMBIC_DATABASE_URL"] = url.render_as_string(hide_password=False)  # env.py reads it
    cfg = Config(os.path.join(ROOT, "migrations", "alembic.ini"))
    cfg.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    command.upgrade(cfg, "head")
    logger.info("Migrated to head")
    return {"status": "ok"}
"""


@contextmanager
def function(
    bundle: Bundle, env: dict[str, str], handler: str = HOOK
) -> Iterator[tuple[RuntimeApi, LambdaProcess]]:
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


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set so far, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


@dataclass(frozen=True)
class Cold:
    """One configuration of a cold start: what runs, where, with which environment."""

    what: str
    bundle: Bundle
    env: dict[str, str]
    handler: str = HOOK

    def once(self) -> tuple[float, float]:
        """(ms from process start to the first answer, peak RSS MiB right after it), in a new execution
        environment (an empty /tmp)."""
        with (
            tempfile.TemporaryDirectory() as tmp,
            function(self.bundle, {**self.env, "TMPDIR": tmp}, self.handler) as (api, process),
        ):
            invoke_ok(api, process, {})
            ms = (time.perf_counter() - process.started) * 1000
            return ms, peak_rss_mb(process.process.pid)


def cold_rounds(configs: list[Cold], runs: int) -> list[tuple[float, float]]:
    """Median ms and median peak RSS per configuration, the samples taken one of each per round."""
    samples: list[list[tuple[float, float]]] = [[] for _ in configs]
    for _ in range(runs):
        for i, config in enumerate(configs):
            samples[i].append(config.once())
    return [
        (statistics.median(ms for ms, _ in s), statistics.median(mb for _, mb in s))
        for s in samples
    ]


def warm_ms(
    bundle: Bundle,
    env: dict[str, str],
    make_event: Callable[[], Any],
    runs: int,
    handler: str = HOOK,
) -> float:
    """Median of warm invocations in one execution environment (after one to warm it)."""
    with function(bundle, env, handler) as (api, process):
        invoke_ok(api, process, make_event())
        samples = []
        for _ in range(runs):
            began = time.perf_counter()
            invoke_ok(api, process, make_event())
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def bare_pg8000_ms(pg: LocalPostgres, database: str, runs: int) -> float:
    """One bare pg8000 connect + SELECT of the version table + close (no TLS, like the hook here)."""
    samples = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        conn = pg8000.native.Connection(
            SUPERUSER,
            host=pg.host,
            port=pg.port,
            database=database,
            password=SUPERUSER_PASSWORD,
            ssl_context=False,
        )
        conn.run("SELECT version_num FROM alembic_version")
        conn.close()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples[1:])


def _secret(moto_url: str, pg: LocalPostgres, database: str) -> str:
    client = secrets_client(moto_url)
    value = {
        "username": SUPERUSER,
        "password": SUPERUSER_PASSWORD,
        "host": pg.host,
        "port": pg.port,
        "dbname": database,
        "engine": "postgres",
    }
    return str(
        client.create_secret(Name=f"bench-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))[
            "ARN"
        ]
    )


@dataclass(frozen=True)
class Envs:
    """The function's environment, per way of getting the database credentials."""

    base: dict[str, str]  # no credentials (the no-op handler)
    secret: dict[str, str]  # DB_SECRET_ARN, read with Powertools/boto3 from moto
    extension: dict[str, str]  # DB_SECRET_ARN, read through the (played) extension
    url: dict[str, str]  # DATABASE_URL


def cold_table(bundle: Bundle, no_bytecode: Bundle, envs: Envs) -> str:
    configs = [
        Cold("awslambdaric + no-op handler (the floor)", bundle, envs.base, NOOP),
        Cold(
            "**naive handler**: boto3 + Powertools + SQLAlchemy + Alembic at init, the secret with boto3, "
            '`command.upgrade(cfg, "head")`',
            bundle,
            envs.secret,
            NAIVE,
        ),
        Cold("hook, DB_SECRET_ARN read with Powertools/boto3 (the default)", bundle, envs.secret),
        Cold(
            "hook, DB_SECRET_ARN read through the Parameters and Secrets extension (`secrets_extension=True`)",
            bundle,
            envs.extension,
        ),
        Cold("hook, DATABASE_URL (no secret to read)", bundle, envs.url),
    ]
    measured = cold_rounds(configs, RUNS)
    fewer = max(3, RUNS // 2)
    configs.append(
        Cold(
            f"hook, DB_SECRET_ARN with boto3, WITHOUT shipped bytecode ({fewer} runs)",
            no_bytecode,
            envs.secret,
        )
    )
    measured += cold_rounds(configs[-1:], fewer)
    naive_ms = measured[1][0]
    rows = [
        [
            config.what,
            f"{ms:.0f}",
            "1.00x (baseline)" if i == 1 else ratio(ms, naive_ms),
            f"{mb:.0f}",
        ]
        for i, (config, (ms, mb)) in enumerate(zip(configs, measured, strict=True))
    ]
    return markdown(
        "(d) cold start through the runtime client, already at head: process start -> first answer",
        ["what", "median ms", "vs naive handler", "peak RSS MiB"],
        rows,
    )


def warm_table(
    bundle: Bundle, pg: LocalPostgres, database: str, envs: Envs, responses: ResponseRecorder
) -> str:
    warm_runs = RUNS * 3
    noop = warm_ms(bundle, envs.base, lambda: {}, warm_runs, NOOP)
    before = bare_pg8000_ms(pg, database, warm_runs)
    rows = [
        ("awslambdaric + no-op handler (Runtime API round trip)", noop),
        (
            "direct `{}` (CDK Trigger, operator)",
            warm_ms(bundle, envs.secret, lambda: {}, warm_runs),
        ),
        (
            "direct `{}`, the secret through the extension",
            warm_ms(bundle, envs.extension, lambda: {}, warm_runs),
        ),
        (
            "CodePipeline job (+ PutJobSuccessResult)",
            warm_ms(bundle, envs.secret, lambda: codepipeline_event(str(uuid.uuid4())), warm_runs),
        ),
        (
            "CloudFormation Update (+ PUT to ResponseURL)",
            warm_ms(
                bundle,
                envs.secret,
                lambda: cloudformation_event("Update", responses.new_url(), physical_id="p"),
                warm_runs,
            ),
        ),
    ]
    bare = (
        before + bare_pg8000_ms(pg, database, warm_runs)
    ) / 2  # measured before and after the runtime rows
    rows.insert(
        1,
        (
            "one bare pg8000 connect + `SELECT version_num FROM alembic_version` + close (no runtime)",
            bare,
        ),
    )
    return markdown(
        "(e) warm invocation through the runtime client, already at head",
        ["what", "median ms", "vs no-op handler", "vs one bare pg8000 round trip"],
        [[what, f"{ms:.1f}", ratio(ms, noop), ratio(ms, bare)] for what, ms in rows],
    )


SECRET_READS = {
    "`import boto3`": "import boto3",
    "`import boto3` + `boto3.client('secretsmanager')`": "import boto3; boto3.client('secretsmanager')",
    "the whole SDK read by hand: + `get_secret_value`": (
        "import boto3, os; "
        "boto3.client('secretsmanager').get_secret_value(SecretId=os.environ['DB_SECRET_ARN'])"
    ),
    "the hook's SDK reader (`DB_SECRET_SOURCE=sdk`: Powertools SecretsProvider, bounded botocore config)": (
        "import os; from lambda_fn.aws.secrets import powertools_secret_reader as r; "
        "r()(os.environ['DB_SECRET_ARN'], False)"
    ),
    "the hook's extension reader (`DB_SECRET_SOURCE=extension`: a localhost GET, no boto3)": (
        "import os; from lambda_fn.aws.secrets import extension_secret_reader as r; "
        "r()(os.environ['DB_SECRET_ARN'], False)"
    ),
}


def secret_table(bundle: Bundle, env: dict[str, str]) -> str:
    """Fresh processes under the runtime's interpreter flags, from the bundle: each imports the handler (what
    init loads anyway), then times the read itself - imports, client, call - and prints it."""
    full = lambda_env(bundle, "127.0.0.1:9", **env)

    def once(code: str) -> float:
        timed = (
            f"import lambda_fn.handler, time\nt = time.perf_counter()\n{code}\n"
            "print((time.perf_counter() - t) * 1000)"
        )
        done = subprocess.run(
            [sys.executable, "-S", "-c", timed],
            cwd=bundle.task_root,
            env=full,
            check=True,
            capture_output=True,
            text=True,
        )
        return float(done.stdout.split()[-1])

    samples: dict[str, list[float]] = {what: [] for what in SECRET_READS}
    for _ in range(RUNS):
        for what, code in SECRET_READS.items():
            samples[what].append(once(code))
    return markdown(
        "(f) what reading the secret adds to a cold start: timed inside fresh processes, after "
        "`import lambda_fn.handler`",
        ["what", "median ms"],
        [[what, f"{statistics.median(values):.1f}"] for what, values in samples.items()],
    )


def run() -> str:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    with throwaway() as pg, tempfile.TemporaryDirectory(prefix="lambda-bench-") as tmp:
        bundle = build_bundle(Path(tmp) / "bundle")
        no_bytecode = build_bundle(Path(tmp) / "plain", bytecode=False)
        for b in (bundle, no_bytecode):
            (b.task_root / "noop_handler.py").write_text(
                "def handler(event, context):\n    return {}\n"
            )
            (b.task_root / "naive_handler.py").write_text(NAIVE_SOURCE)
        with moto_server() as moto_url:
            pipeline, responses = CodePipelineRecorder(), ResponseRecorder()
            extension = SecretsExtension(from_secrets_manager(secrets_client(moto_url)))
            try:
                db = create_database(pg)
                base = {
                    "DB_SSLMODE": "disable",
                    "POWERTOOLS_TRACE_DISABLED": "true",
                    "AWS_ENDPOINT_URL_CODEPIPELINE": pipeline.url,
                }
                with_secret = {
                    **base,
                    "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
                    "DB_SECRET_ARN": _secret(moto_url, pg, db.name),
                }
                envs = Envs(
                    base,
                    with_secret,
                    {**with_secret, **extension.env()},
                    {**base, "DATABASE_URL": db.url},
                )
                with function(bundle, envs.url) as (api, process):
                    # migrate to head once: every measured run is "already at head"
                    invoke_ok(api, process, {})
                with function(bundle, envs.secret, NAIVE) as (api, process):
                    # the naive handler works here: at head, nothing to do
                    invoke_ok(api, process, {})

                sections = [
                    cold_table(bundle, no_bytecode, envs),
                    warm_table(bundle, pg, db.name, envs, responses),
                    secret_table(bundle, envs.extension),
                ]
            finally:
                extension.close()
                pipeline.close()
                responses.close()
    return (
        f"Lambda benchmarks: medians of {RUNS} runs (warm rows: {RUNS * 3}), Python {sys.version.split()[0]}."
        + "\n".join(sections)
    )


def main() -> int:
    print(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())

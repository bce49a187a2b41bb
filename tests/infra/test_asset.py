"""The migration function's asset as ``cdk synth`` built it: contents, bytecode, size, CA bundle, and the
handler serving a direct invocation from nothing but the asset (plus the runtime's boto3)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from alembic_hook_cdk.bundling import ALEMBIC_INI, CA_BUNDLE_PATH, MANIFEST, MIGRATIONS_DIR
from alembic_hook_cdk.bundling.dependencies import RUNTIME_PROVIDED
from infra.measure_asset import MB, measure
from tests.infra.conftest import REPO, which_or_skip
from tests.support.database import create_database
from tools.localpg import LocalPostgres

# Zipped size budget without boto3 (measured 9.4 MB for python3.12 x86_64; Lambda's direct upload limit is
# 50 MB). The margin absorbs dependency updates; bundling boto3 by mistake (27 MB) fails it.
ZIPPED_BUDGET = 12 * MB


def pyc_magic(interpreter: str) -> bytes:
    done = subprocess.run(
        [
            interpreter,
            "-I",
            "-c",
            "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return bytes.fromhex(done.stdout)


def test_asset_holds_handler_migrations_and_dependencies(asset_dir: Path) -> None:
    assert (asset_dir / "lambda_fn" / "handler.py").is_file()
    assert (asset_dir / ALEMBIC_INI).read_bytes() == (REPO / "alembic.ini").read_bytes()
    assert (asset_dir / MIGRATIONS_DIR / "env.py").is_file()
    assert (asset_dir / MIGRATIONS_DIR / "script.py.mako").is_file()
    ours = sorted(p.name for p in (REPO / "alembic" / "versions").glob("*.py"))
    theirs = sorted(p.name for p in (asset_dir / MIGRATIONS_DIR / "versions").glob("*.py"))
    assert theirs == ours
    # the migrations must not shadow the alembic library
    assert (asset_dir / "alembic" / "__init__.py").is_file()
    assert not (asset_dir / "alembic" / "env.py").exists()
    for package in ("alembic", "sqlalchemy", "pg8000", "aws_lambda_powertools", "mako", "scramp"):
        assert (asset_dir / package).is_dir(), package


def test_asset_records_the_heads_for_cold_starts(asset_dir: Path) -> None:
    from lambda_fn.engine import heads_manifest

    manifest = json.loads((asset_dir / MIGRATIONS_DIR / heads_manifest.HEADS_MANIFEST).read_text())
    assert manifest["heads"] == ["0005_recommendations"]
    # keyed by the content the function will see, so the function trusts it
    assert manifest["fingerprint"] == heads_manifest.fingerprint(
        [asset_dir / MIGRATIONS_DIR / "versions"]
    )


def test_asset_leaves_out_boto3_tests_caches_and_dev_dependencies(asset_dir: Path) -> None:
    manifest = json.loads((asset_dir / MANIFEST).read_text())
    assert manifest["boto3"] == "runtime"
    assert not set(manifest["packages"]) & RUNTIME_PROVIDED
    for absent in ("boto3", "botocore", "s3transfer", "bin", "tests", "pytest", "moto", "aws_cdk", "jsii", "cdk_nag",
                   "cfnlint", "mypy", "ruff", "hypothesis", "awslambdaric", "pgserver", "tools", "infra",
                   "sqlalchemy/testing", "alembic/testing", ".lock"):  # fmt: skip
        assert not (asset_dir / absent).exists(), absent
    names = {p.name for p in asset_dir.rglob("*")}
    assert not names & {".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
    assert not list((asset_dir / "lambda_fn").rglob("test_*.py"))


def test_asset_ships_bytecode_for_the_runtime_python(asset_dir: Path, lambda_python: str) -> None:
    magic = pyc_magic(lambda_python)
    manifest = json.loads((asset_dir / MANIFEST).read_text())
    assert manifest["python"] == "3.12"
    assert manifest["bytecode"] == "cpython-312 unchecked-hash"
    sources = [p for p in asset_dir.rglob("*.py") if "templates" not in p.parts]
    missing = [p for p in sources if not Path(importlib.util.cache_from_source(str(p))).is_file()]
    assert not missing, missing[:5]
    for source in (asset_dir / "lambda_fn" / "handler.py", asset_dir / "sqlalchemy" / "__init__.py",
                   next((asset_dir / MIGRATIONS_DIR / "versions").glob("*.py"))):  # fmt: skip
        header = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:16]
        assert header[:4] == magic
        # PEP 552 flags: bit 0 = hash-based, bit 1 = check_source; unchecked-hash is 0b01
        assert int.from_bytes(header[4:8], "little") == 0b01
    # nothing compiled for another Python (e.g. the build host's)
    other = [p for p in asset_dir.rglob("*.pyc") if ".cpython-312." not in p.name]
    assert not other, other[:5]


def test_shared_objects_match_the_lambda_platform(asset_dir: Path) -> None:
    objects = list(asset_dir.rglob("*.so"))
    assert objects
    assert all(re.search(r"\.cpython-312-x86_64-linux-gnu\.so$", p.name) for p in objects), objects
    file_tool = which_or_skip("file")
    described = subprocess.run(
        [file_tool, *map(str, objects)], capture_output=True, text=True, check=True
    ).stdout
    # stripped: SQLAlchemy's Cython modules shrink 9.2 -> 1.3 MB
    assert "with debug_info" not in described


def test_asset_size(asset_dir: Path) -> None:
    size = measure(asset_dir)
    print(
        f"\nasset: {size.files} files, {size.unzipped / MB:.1f} MB unzipped, {size.zipped / MB:.1f} MB zipped"
    )
    assert size.zipped < ZIPPED_BUDGET
    assert size.unzipped < 250 * MB  # Lambda's unzipped limit


def test_ca_bundle_is_the_rds_bundle(asset_dir: Path) -> None:
    openssl = which_or_skip("openssl")
    pem = (asset_dir / CA_BUNDLE_PATH).read_text()
    blocks = re.findall(
        r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", pem, re.DOTALL
    )
    subjects = []
    for block in blocks:
        done = subprocess.run(
            [openssl, "x509", "-noout", "-subject", "-issuer"],
            input=block,
            capture_output=True,
            text=True,
            check=True,
        )
        subject, issuer = done.stdout.splitlines()
        # roots and (for the older CAs) their regional intermediates: all issued by Amazon RDS
        for name in (subject, issuer):
            assert 'O = "Amazon Web Services, Inc."' in name and "OU = Amazon RDS" in name, name
        subjects.append(subject)
    # the three G1 root families RDS signs server certificates with, e.g. for us-east-1 and eu-west-1
    for region in ("us-east-1", "eu-west-1"):
        for family in ("RSA2048 G1", "RSA4096 G1", "ECC384 G1"):
            assert any(f"CN = Amazon RDS {region} Root CA {family}" in s for s in subjects), (
                region,
                family,
            )


# -- a fresh interpreter with only the asset and the runtime's boto3 -------------------------------------

PROBE = r"""
import importlib.util, json, os, sys, sysconfig, time
sys.dont_write_bytecode = True  # /var/task is read-only on Lambda
sys.path[:0] = [ASSET, RUNTIME]  # Lambda: LAMBDA_TASK_ROOT first, then the runtime's packages
started = time.perf_counter()
from lambda_fn.handler import handler
imported = time.perf_counter() - started
# what any command may need later (downgrade, history, sql): all importable from the asset alone
import alembic.command, alembic.script, alembic.runtime.migration, alembic.ddl.postgresql, alembic.autogenerate
import sqlalchemy.dialects.postgresql.pg8000, mako.template, scramp, aws_lambda_powertools.utilities.parameters

class Context:
    function_name = "migrations"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:migrations"
    memory_limit_in_mb = 512
    aws_request_id = "6f2b8c1e-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/migrations"
    log_stream_name = "2026/11/22/[$LATEST]test"
    def get_remaining_time_in_millis(self):
        return 600_000

results = []
for event in EVENTS:
    try:
        results.append(handler(event, Context()))
    except Exception as exc:
        results.append({"raised": type(exc).__name__, "message": str(exc)[:2000]})

allowed = (ASSET, RUNTIME, sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
outside = sorted({
    getattr(m, "__file__", None) or "" for m in list(sys.modules.values())
    if getattr(m, "__file__", None) and not m.__file__.startswith(allowed)
})
uncompiled = sorted(
    m.__name__ for m in list(sys.modules.values())
    if (getattr(m, "__file__", None) or "").startswith(ASSET) and m.__file__.endswith(".py")
    and not os.path.exists(importlib.util.cache_from_source(m.__file__))
)
print("RESULT " + json.dumps({"results": results, "outside": outside, "uncompiled": uncompiled,
                              "import_seconds": imported}))
"""


def run_in_fresh_interpreter(
    interpreter: str, asset: Path, runtime: Path, env: dict[str, str], events: list[dict[str, Any]]
) -> dict[str, Any]:
    script = PROBE.replace("ASSET", repr(str(asset))).replace("RUNTIME", repr(str(runtime)))
    script = script.replace("EVENTS", repr(events))
    # -I: no PYTHONPATH, no user site, no current directory; -S: no site-packages at all. Only the standard
    # library and what the script puts on sys.path.
    done = subprocess.run(
        [interpreter, "-I", "-S", "-c", script],
        cwd=asset,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, (
        f"rc={done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    )
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def lambda_environment(asset: Path, database_url: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LAMBDA_TASK_ROOT": str(asset),
        "AWS_LAMBDA_FUNCTION_NAME": "migrations",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        # what the construct sets (paths relative to the task root), with the test database's URL
        "ALEMBIC_CONFIG": ALEMBIC_INI,
        "ALEMBIC_SCRIPT_LOCATION": MIGRATIONS_DIR,
        "DATABASE_URL": database_url,
        "DB_SSLMODE": "disable",
        "POWERTOOLS_SERVICE_NAME": "db-migrations",
        "POWERTOOLS_METRICS_NAMESPACE": "DbMigrations",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


@pytest.mark.timeout(300)
def test_handler_runs_from_the_asset_alone(
    asset_dir: Path, runtime_boto3: Path, lambda_python: str, pg: LocalPostgres
) -> None:
    database = create_database(pg)
    env = lambda_environment(asset_dir, database.url)
    outcome = run_in_fresh_interpreter(
        lambda_python, asset_dir, runtime_boto3, env, [{}, {"command": "status"}, {}]
    )
    upgrade, status, again = outcome["results"]
    revisions = list((REPO / "alembic" / "versions").glob("*.py"))
    assert upgrade["status"] == "applied", upgrade
    assert len(upgrade["applied"]) == len(revisions)
    assert status["status"] == "up_to_date", status
    assert again["status"] == "up_to_date", again  # "already at head"
    assert again["applied"] == [] and again["to_revision"] == upgrade["to_revision"]
    # nothing came from outside the asset, the runtime's boto3 and the standard library
    assert outcome["outside"] == []
    # every module imported from the asset had its bytecode shipped
    assert outcome["uncompiled"] == []
    assert database.version() == [upgrade["to_revision"]]

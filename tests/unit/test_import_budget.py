"""What Lambda's init imports (Powertools' import-time-budget style): `import lambda_fn.handler` in a fresh
Python loads the fast path only. SQLAlchemy, Alembic (and the engine that needs them) load on demand, when a
run has work to do; boto3 only when the secret is read through the SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.paths import REPO

# Powertools imports the `botocore` package itself (a few ms, to add its user agent to any session);
# what costs is a session and a client, which only boto3 and the SDK secret reader bring.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "mako",
    "boto3",
    "botocore.session",
    "botocore.client",
    "lambda_fn.engine.migrate",
)


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_handler_loads_neither_sqlalchemy_alembic_nor_boto3() -> None:
    assert loaded_after("import lambda_fn.handler") == []


def test_the_extension_reader_loads_no_boto3() -> None:
    code = "import lambda_fn.handler\nfrom lambda_fn import invocation\ninvocation.secret_reader('extension')"
    assert loaded_after(code) == []


@pytest.mark.parametrize("module", ["boto3", "sqlalchemy"])
def test_the_probe_sees_what_is_loaded(module: str) -> None:
    """The check itself works: a module that is imported is reported."""
    assert module in loaded_after(f"import lambda_fn.handler\nimport {module}")

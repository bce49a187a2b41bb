"""The lower end of the Alembic range pyproject.toml declares (the upper end is the repo's own locked venv,
which every other test runs under): the engine's scenario tests run again in a venv holding that oldest
Alembic and the oldest SQLAlchemy 2.0 line, so the hook installs next to projects that pin an older Alembic
and is honest about it."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.support.paths import REPO
from tests.support.published import hook_requirements, venv

pytestmark = pytest.mark.timeout(900)


def lowest(name: str) -> str:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    spec = next(d for d in data["project"]["dependencies"] if d.startswith(name))
    found = re.search(r">=\s*([\w.]+)", spec)
    assert found, f"{spec}: no lower bound declared"
    return found.group(1)


def test_the_oldest_declared_alembic_runs_the_engine_scenarios() -> None:
    others = [r for r in hook_requirements() if not r.startswith(("alembic", "sqlalchemy"))]
    env = venv(
        [
            f"alembic=={lowest('alembic')}.*",
            f"sqlalchemy=={lowest('sqlalchemy')}.*",
            *others,
            "pytest",
            "pytest-timeout",
            "hypothesis",
            "squawk-cli==2.70.0",
        ]
    ).ensure()
    version = env.run("-c", "import alembic; print(alembic.__version__)").stdout.strip()
    assert version.startswith(lowest("alembic"))
    done = env.run(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/integration/test_upgrade.py",
        "tests/integration/test_project_shapes.py",
        env={"PYTHONPATH": str(REPO)},
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout

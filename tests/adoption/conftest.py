"""What a team outside this repository does: build our distribution (sdist, then the wheel from it), install
it into a fresh virtualenv of its own, and use it from its own repository. Everything lives in temporary
directories outside the checkout; uv's cache keeps the installs fast in CI (no download after the first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alembic_hook_cdk.bundling import find_uv
from tests.support.paths import REPO


def run(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
        )
    return done


def clean_env(**extra: str) -> dict[str, str]:
    """An environment with nothing of this checkout: no VIRTUAL_ENV, no PYTHONPATH."""
    keep = (
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "UV_CACHE_DIR",
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT",
        "PYENV_ROOT",
    )
    machine = (
        "SSL_",
        "PIP_",
        "UV_",
        "REQUESTS_CA",
        "NIX_SSL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
    )
    # the machine's own configuration (certificates, package indexes), never this checkout's
    env = {k: v for k, v in os.environ.items() if k in keep or k.upper().startswith(machine)}
    return {
        **env,
        "UV_PYTHON_DOWNLOADS": "never",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        **extra,
    }


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`uv build`: the sdist, and the wheel built from that sdist (so both are proven installable)."""
    out = tmp_path_factory.mktemp("dist")
    # pyenv shims refuse non-global versions: name it
    base = getattr(sys, "_base_executable", sys.executable)
    run(
        [find_uv(), "build", "--python", base, "--out-dir", str(out), str(REPO)],
        cwd=out,
        env=clean_env(),
    )
    (wheel,) = out.glob("alembic_deploy_hook-*.whl")
    return wheel


def make_venv(root: Path, wheel: Path, extras: str = "") -> Path:
    """A fresh virtualenv with the wheel (and extras) installed the way a team's CI installs it."""
    uv = find_uv()
    venv = root / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    run([uv, "venv", "--quiet", "--python", base, str(venv)], cwd=root, env=clean_env())
    python = venv / "bin" / "python"
    run(
        [uv, "pip", "install", "--quiet", "--python", str(python), f"{wheel}{extras}"],
        cwd=root,
        env=clean_env(),
    )
    return python

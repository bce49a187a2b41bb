"""The function's runtime dependencies: which (read from the installed distribution's own metadata), installed
how (``uv pip install --target`` for the Lambda's platform and Python, then what never runs there removed), and
living beside the Lambda runtime's boto3 (what it provides, the bounds its botocore imposes).

Every package ``alembic-deploy-hook`` needs (its dependency closure, markers evaluated for the Lambda's platform
and Python), pinned to the version installed here, minus what the Lambda runtime provides and what only builds
need. No file of a checkout is read (no ``uv.lock``, no ``pyproject.toml``): a team's synth sees what its own
``pip install alembic-deploy-hook[cdk]`` installed, and the asset carries exactly those versions, as manylinux
wheels for the function's Python."""

from __future__ import annotations

import re
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from alembic_hook_cdk.bundling.target import LambdaPython
from alembic_hook_cdk.bundling.tools import BundlingError, run

if TYPE_CHECKING:  # the spec's requirements come from here
    from packaging.requirements import Requirement

    from alembic_hook_cdk.bundling.spec import HookBundleSpec

DISTRIBUTION = "alembic-deploy-hook"
# Runtime dependencies of the distribution that never go into the asset: the linter runs at build time (its
# verdicts ship as alembic_hook_lint.json, see revision_records.py), a 25 MB binary the function does not need.
BUILD_ONLY = frozenset({"squawk-cli"})
# boto3 and what only boto3 needs. Every Lambda Python runtime provides them.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "urllib3"})
# Packages the bundle shares with the runtime's botocore. /var/task precedes the runtime's site-packages on
# sys.path, so the bundled copy is what botocore imports: it must stay inside botocore's bounds.
BOTOCORE_UPPER_BOUNDS = {"python-dateutil": 3, "jmespath": 2}
# Removed from the installed dependencies (2.1 MB unzipped, 0.6 MB zipped): see remove_unused.
UNUSED_AT_RUNTIME = ("bin", "sqlalchemy/testing", "alembic/testing", ".lock")


# -- which --------------------------------------------------------------------------------------------------------


def runtime_requirements(
    target: LambdaPython, *, boto3_from_runtime: bool, distribution: str = DISTRIBUTION
) -> list[str]:
    """``name==version`` for every package of the closure installed here (sorted); a package the target
    needs but this machine lacks (a marker true only on Linux, say) keeps its requirement as written."""
    skip = BUILD_ONLY | (RUNTIME_PROVIDED if boto3_from_runtime else frozenset())
    environment = target.marker_environment()
    pins: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(distribution, frozenset())]
    visited: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in visited:
            continue
        visited.add((name, extras))
        for requirement in _requires(name, extras, environment, top=name == distribution):
            dependency = normalise(requirement.name)
            if dependency in skip:
                continue
            try:
                pins[dependency] = f"{dependency}=={metadata.version(dependency)}"
            except metadata.PackageNotFoundError:
                requirement.marker = None
                pins.setdefault(dependency, str(requirement))
                continue
            pending.append((dependency, frozenset(requirement.extras)))
    return [pins[name] for name in sorted(pins)]


def _requires(
    name: str, extras: frozenset[str], environment: dict[str, str], *, top: bool
) -> list[Requirement]:
    """The requirements of an installed distribution whose markers hold on the target (with its extras)."""
    from packaging.requirements import Requirement

    try:
        requires = metadata.distribution(name).requires or []
    except metadata.PackageNotFoundError:
        if top:
            raise BundlingError(
                f"{name} is not installed in {sys.executable}: pip install "
                f"'{name}[cdk]' into the environment that runs the CDK app"
            ) from None
        return []
    wanted = []
    for line in requires:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(
            marker.evaluate({**environment, "extra": e}) for e in (sorted(extras) or [""])
        ):
            wanted.append(requirement)
    return wanted


def requirement_name(line: str) -> str | None:
    """The normalised distribution name a requirements line pins, or None for comments and options."""
    line = line.strip()
    if not line or line.startswith(("#", "-")):
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return normalise(match.group(0)) if match else None


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- installed --------------------------------------------------------------------------------------------------


def install(
    spec: HookBundleSpec, *, uv: str, requirements: Path, output_dir: Path, cwd: Path
) -> None:
    """Wheels only, no bytecode, for the target's platform: the uv spelling of ``pip install --platform
    manylinux2014_<arch> --python-version X.Y --implementation cp --only-binary=:all: --no-compile``."""
    command = [
        uv, "pip", "install",
        "--target", str(output_dir),
        "--python", sys.executable,  # only for uv's own bookkeeping: the target below decides the wheels
        "--python-platform", spec.target.uv_platform,
        "--python-version", spec.target.version,
        "--only-binary", ":all:",
        "--requirements", str(requirements),
    ]  # fmt: skip
    if spec.requirements_file is not None:
        command += ["--requirements", str(spec.requirements_file)]
    run(command, cwd=cwd, what="uv pip install")


def remove_unused(output_dir: Path) -> None:
    """Console scripts (alembic, mako-render, ...) cannot run on Lambda and only add weight; the test
    frameworks of SQLAlchemy and Alembic are imported only by their own test suites (pytest plugins);
    uv leaves its lock file in the target."""
    for leftover in UNUSED_AT_RUNTIME:
        path = output_dir / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def installed_packages(root: Path) -> dict[str, str]:
    """Distribution name -> version for every ``*.dist-info`` at the asset root."""
    packages: dict[str, str] = {}
    for info in sorted(root.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        packages[normalise(name)] = version
    return packages


# -- beside the runtime's boto3 ---------------------------------------------------------------------------------


def check_runtime_compatibility(spec: HookBundleSpec, packages: dict[str, str]) -> None:
    """Refuse a bundle whose packages the runtime's botocore (used when boto3 comes from the runtime) cannot
    import. ``packages``: distribution name -> version, as ``installed_packages`` reports them."""
    if not spec.boto3_from_runtime:
        return
    for name, bound in BOTOCORE_UPPER_BOUNDS.items():
        version = packages.get(name)
        if version is not None and int(version.split(".")[0]) >= bound:
            raise BundlingError(
                f"{name} {version} is bundled, but the runtime's botocore (boto3 is taken from the runtime) "
                f"needs {name}<{bound}, and /var/task shadows the runtime's copy: pin {name}<{bound} in "
                "pyproject.toml, or bundle boto3 (boto3_from_runtime=False)"
            )

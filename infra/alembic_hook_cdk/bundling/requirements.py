"""The function's runtime dependencies, read from the installed distribution's own metadata: every package
``alembic-deploy-hook`` needs (its dependency closure, markers evaluated for the Lambda's platform and Python),
pinned to the version installed here, minus what the Lambda runtime provides and what only builds need.

No file of a checkout is read (no ``uv.lock``, no ``pyproject.toml``): a team's synth sees what its own
``pip install alembic-deploy-hook[cdk]`` installed, and the asset carries exactly those versions, as manylinux
wheels for the function's Python (``install``)."""

from __future__ import annotations

import re
from importlib import metadata

from alembic_hook_cdk.bundling.compat import RUNTIME_PROVIDED
from alembic_hook_cdk.bundling.target import LambdaPython
from alembic_hook_cdk.bundling.tools import BundlingError

DISTRIBUTION = "alembic-deploy-hook"
# Runtime dependencies of the distribution that never go into the asset: the linter runs at build time (its
# verdicts ship as alembic_hook_lint.json, see lint.py), a 25 MB binary the function does not need.
BUILD_ONLY = frozenset({"squawk-cli"})


def runtime_requirements(target: LambdaPython, *, boto3_from_runtime: bool,
                         distribution: str = DISTRIBUTION) -> list[str]:
    """``name==version`` for every package of the closure installed here (sorted); a package the target
    needs but this machine lacks (a marker true only on Linux, say) keeps its requirement as written."""
    from packaging.requirements import Requirement

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
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            if name == distribution:
                raise BundlingError(f"{distribution} is not installed in {_python()}: pip install "
                                    f"'{distribution}[cdk]' into the environment that runs the CDK app") from None
            continue
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({**environment, "extra": e})
                                              for e in (sorted(extras) or [""])):
                continue
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


def _python() -> str:
    import sys

    return sys.executable


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

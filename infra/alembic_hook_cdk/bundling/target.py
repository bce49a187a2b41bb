"""The Lambda runtime the asset is built for (Python minor version, CPU architecture, wheel platform) and
where things sit in the asset (asset root = /var/task; the runtime reads these paths through environment
variables)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import aws_lambda as lambda_

# -- the asset's layout --

# Part of the asset hash: bump it whenever the layout or the build steps change, so CDK rebuilds.
BUNDLE_FORMAT = 3  # 3: alembic_hook_lint.json (the safety gate) beside env.py

HANDLER_PACKAGE = "lambda_fn"
MIGRATIONS_DIR = "migrations"
ALEMBIC_INI = f"{MIGRATIONS_DIR}/alembic.ini"
CA_BUNDLE_PATH = "certs/rds-ca-bundle.pem"
MANIFEST = "hook-bundle.json"
LAMBDA_TASK_ROOT = "/var/task"

# -- the runtime --

MIN_PYTHON = (3, 12)
# CDK's architecture name -> the machine name in wheel platform tags.
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class LambdaPython:
    """The Lambda runtime the asset is built for: Python minor version and CPU architecture."""

    version: str = "3.12"
    architecture: str = "x86_64"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d+", self.version):
            raise ValueError(f"Python version {self.version!r} is not of the form 3.N")
        if self.version_tuple < MIN_PYTHON:
            # 3.11 and older run on Amazon Linux 2 and are at end of support; the bundle targets AL2023.
            raise ValueError(f"Python {self.version} is not supported: use 3.12 or newer")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture {self.architecture!r} is not one of {sorted(ARCHITECTURES)}"
            )

    @classmethod
    def from_cdk(cls, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> LambdaPython:
        match = re.fullmatch(r"python(3\.\d+)", runtime.name)
        if match is None:
            raise ValueError(f"runtime {runtime.name} is not a Python runtime")
        return cls(version=match.group(1), architecture=architecture.name)

    @property
    def version_tuple(self) -> tuple[int, int]:
        major, minor = self.version.split(".")
        return int(major), int(minor)

    @property
    def platform_tag(self) -> str:
        """The wheel platform (pip's ``--platform``). Python 3.12+ runs on AL2023 (glibc 2.34)."""
        return f"manylinux2014_{ARCHITECTURES[self.architecture]}"

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values of the Lambda runtime (Amazon Linux 2023, CPython), so the dependencies'
        markers are judged for the function, not for the build machine."""
        machine = ARCHITECTURES[self.architecture]
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{self.version}.0",
            "os_name": "posix",
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{self.version}.0",
            "python_version": self.version,
            "sys_platform": "linux",
        }

    @property
    def uv_platform(self) -> str:
        return f"{ARCHITECTURES[self.architecture]}-manylinux2014"

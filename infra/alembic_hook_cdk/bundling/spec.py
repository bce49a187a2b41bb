"""What the asset is built from (``HookBundleSpec``) and its fingerprint, which is the CDK asset hash."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from alembic_hook_cdk.bundling.dependencies import runtime_requirements
from alembic_hook_cdk.bundling.revision_records import linter_version
from alembic_hook_cdk.bundling.target import (
    BUNDLE_FORMAT,
    CA_BUNDLE_PATH,
    HANDLER_PACKAGE,
    MANIFEST,
    MIGRATIONS_DIR,
    LambdaPython,
)
from alembic_hook_cdk.bundling.tools import BundlingError, walk
from alembic_hook_cdk.rds_ca import CaBundle


def installed_handler() -> Path:
    """The handler package as installed with this distribution (site-packages, or a checkout's editable
    install): what goes into the asset, never a path guessed from this file's location."""
    found = importlib.util.find_spec(HANDLER_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise BundlingError(
            f"the {HANDLER_PACKAGE} package is not importable: pip install alembic-deploy-hook"
        )
    return Path(next(iter(found.submodule_search_locations))).resolve()


@dataclass(frozen=True)
class HookBundleSpec:
    """Everything the asset is built from. Its fingerprint is the asset hash. Paths are absolute (the
    construct resolves relative ones against the CDK app's directory before it builds a spec)."""

    alembic_ini: Path
    script_location: Path
    target: LambdaPython = field(default_factory=LambdaPython)
    extra_source_dirs: tuple[Path, ...] = ()
    requirements_file: Path | None = None
    ca_bundle: CaBundle | None = None
    boto3_from_runtime: bool = True
    require_bytecode: bool = False
    strip_debug_info: bool = True
    handler_source: Path = field(default_factory=installed_handler)

    def __post_init__(self) -> None:
        checks = [
            (self.handler_source, "dir", "the handler package"),
            (self.alembic_ini, "file", "alembic.ini"),
            (self.script_location, "dir", "the Alembic script directory"),
            *((d, "dir", "an extra source folder") for d in self.extra_source_dirs),
        ]
        if self.requirements_file is not None:
            checks.append((self.requirements_file, "file", "the requirements file"))
        for path, kind, what in checks:
            ok = path.is_dir() if kind == "dir" else path.is_file()
            if not ok:
                raise BundlingError(f"{what} is missing: {path}")
        reserved = {
            HANDLER_PACKAGE,
            MIGRATIONS_DIR,
            Path(CA_BUNDLE_PATH).parts[0],
            MANIFEST,
            "alembic",
        }
        names = [d.name for d in self.extra_source_dirs]
        for name in names:
            if name in reserved or names.count(name) > 1:
                raise BundlingError(
                    f"extra source folder {name!r} would clash at the asset root "
                    f"(reserved: {', '.join(sorted(reserved))}; names must be unique)"
                )

    @functools.cached_property
    def requirements(self) -> tuple[str, ...]:
        """The hook's runtime dependencies, pinned to the installed versions (``runtime_requirements``)."""
        return tuple(runtime_requirements(self.target, boto3_from_runtime=self.boto3_from_runtime))

    @functools.cached_property
    def linter(self) -> str | None:
        """The squawk version the build lints with (None: none installed, and the build refuses)."""
        return linter_version()

    def fingerprint(self) -> str:
        """A content hash of every input, so the asset is rebuilt exactly when something it holds changes:
        the handler's code, the pinned dependency versions, the team's alembic.ini, revisions, env.py, extra
        folders and requirements file, the CA bundle, and the linter's version. The heads manifest and the
        lint manifest are functions of those (revision files, handler code, squawk version, the policy in
        alembic.ini), so they are covered without being built at synth time.

        Only inputs count, not what the build machine can do (bytecode interpreter, strip tool): the same
        sources synthesize the same template on every machine, so ``cdk diff`` shows no phantom changes."""
        digest = hashlib.sha256()
        header = {
            "format": BUNDLE_FORMAT,
            "python": self.target.version,
            "architecture": self.target.architecture,
            "boto3_from_runtime": self.boto3_from_runtime,
            "strip": self.strip_debug_info,
            "extra": [d.name for d in self.extra_source_dirs],
            "requirements": list(self.requirements),
            "linter": self.linter,
        }
        digest.update(json.dumps(header, sort_keys=True).encode())
        trees: list[tuple[str, Path]] = [
            ("handler", self.handler_source),
            ("ini", self.alembic_ini),
            ("scripts", self.script_location),
            *((f"extra:{d.name}", d) for d in self.extra_source_dirs),
        ]
        if self.requirements_file is not None:
            trees.append(("requirements", self.requirements_file))
        for label, root in trees:
            digest.update(f"\0{label}\0".encode())
            for relative, path in walk(root):
                digest.update(f"{relative}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        if self.ca_bundle is not None:
            digest.update(b"\0ca\0" + self.ca_bundle.fingerprint().encode())
        return digest.hexdigest()

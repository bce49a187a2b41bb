"""What the asset is built from (``HookBundleSpec``) and its fingerprint, which is the CDK asset hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from alembic_hook_cdk.bundling.files import walk
from alembic_hook_cdk.bundling.layout import BUNDLE_FORMAT, CA_BUNDLE_PATH, HANDLER_PACKAGE, MANIFEST, MIGRATIONS_DIR
from alembic_hook_cdk.bundling.target import LambdaPython
from alembic_hook_cdk.bundling.tools import BundlingError
from alembic_hook_cdk.rds_ca import CaBundle


@dataclass(frozen=True)
class HookBundleSpec:
    """Everything the asset is built from. Its fingerprint is the asset hash."""

    hook_root: Path  # holds lambda_fn/, pyproject.toml and uv.lock
    alembic_ini: Path
    script_location: Path
    target: LambdaPython = field(default_factory=LambdaPython)
    extra_source_dirs: tuple[Path, ...] = ()
    requirements_file: Path | None = None
    ca_bundle: CaBundle | None = None
    boto3_from_runtime: bool = True
    require_bytecode: bool = False
    strip_debug_info: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.hook_root / HANDLER_PACKAGE, "dir", "the handler package"),
            (self.hook_root / "uv.lock", "file", "the lock file the dependencies are exported from"),
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
        reserved = {HANDLER_PACKAGE, MIGRATIONS_DIR, Path(CA_BUNDLE_PATH).parts[0], MANIFEST, "alembic"}
        names = [d.name for d in self.extra_source_dirs]
        for name in names:
            if name in reserved or names.count(name) > 1:
                raise BundlingError(
                    f"extra source folder {name!r} would clash at the asset root "
                    f"(reserved: {', '.join(sorted(reserved))}; names must be unique)"
                )

    def fingerprint(self) -> str:
        """A content hash of every input, so the asset is rebuilt exactly when something it holds changes.

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
        }
        digest.update(json.dumps(header, sort_keys=True).encode())
        trees: list[tuple[str, Path]] = [
            ("handler", self.hook_root / HANDLER_PACKAGE),
            ("lock", self.hook_root / "uv.lock"),
            ("pyproject", self.hook_root / "pyproject.toml"),
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

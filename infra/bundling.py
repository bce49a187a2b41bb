"""Docker-free bundling of the migration function's asset.

``PythonFunction`` (aws-lambda-python-alpha) needs Docker, which CI machines and this repository's build
host do not have. Instead ``LocalHookBundler`` (a CDK ``ILocalBundling``) builds the asset on the host:

1. The hook's runtime dependencies, exactly as pinned in ``uv.lock`` (``uv export --no-default-groups``:
   never the dev or infra groups), plus the team's own requirements file for what its ``env.py`` imports.
2. ``uv pip install --target`` for the Lambda's platform and Python, wheels only, no bytecode: the uv
   spelling of ``pip install --platform manylinux2014_<arch> --python-version X.Y --implementation cp
   --only-binary=:all: --no-compile``. uv is used because it evaluates environment markers for the
   target platform (pip evaluates them for the host) and because the project is managed with it anyway.
3. ``lambda_fn/`` (the handler package), the team's Alembic script directory as ``migrations/`` (not
   ``alembic/``, which would shadow the alembic library) with its ``alembic.ini`` inside, the team's extra
   source folders, and the RDS CA bundle as ``certs/rds-ca-bundle.pem``.
4. Bytecode for the runtime's Python (``compileall --invalidation-mode unchecked-hash``): /var/task is
   read-only on Lambda, so without shipped ``.pyc`` every cold start compiles everything again (measured
   2.6 s instead of 0.9 s). Bytecode is tied to the minor version, so it is compiled by an interpreter of
   exactly the runtime's version; when none is installed the asset ships without bytecode and the build
   says so loudly (``require_bytecode=True`` turns that into an error).

Nothing else goes in: no tests (nor the libraries' test frameworks), caches, console scripts or dev
dependencies. ``hook-bundle.json`` at the
asset root records what was built (Python, platform, bytecode, packages) for whoever inspects the asset.

boto3 is taken from the Lambda runtime by default. Measured with ``python -m infra.measure_asset``
(python3.12, x86_64, bytecode and CA bundle included): 28.1 MB unzipped / 9.4 MB zipped without boto3,
52.5 MB / 26.6 MB with it: boto3+botocore would nearly triple the upload for an SDK every Python runtime
already ships, and the hook calls only long-stable APIs (Secrets Manager GetSecretValue, CodePipeline
PutJob*Result). ``boto3_from_runtime=False`` pins the locked boto3 into the asset instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.rds_ca import CaBundle

# Part of the asset hash: bump it whenever the layout or the build steps change, so CDK rebuilds.
BUNDLE_FORMAT = 2

# The asset's layout (asset root = /var/task). The runtime reads these through environment variables.
HANDLER_PACKAGE = "lambda_fn"
MIGRATIONS_DIR = "migrations"
ALEMBIC_INI = f"{MIGRATIONS_DIR}/alembic.ini"
CA_BUNDLE_PATH = "certs/rds-ca-bundle.pem"
MANIFEST = "hook-bundle.json"
LAMBDA_TASK_ROOT = "/var/task"

MIN_PYTHON = (3, 12)
# boto3 and what only boto3 needs. Every Lambda Python runtime provides them.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "urllib3"})
# Packages the bundle shares with the runtime's botocore. /var/task precedes the runtime's site-packages on
# sys.path, so the bundled copy is what botocore imports: it must stay inside botocore's bounds.
BOTOCORE_UPPER_BOUNDS = {"python-dateutil": 3, "jmespath": 2}

# Removed from the installed dependencies (2.1 MB unzipped, 0.6 MB zipped): see build_bundle.
UNUSED_AT_RUNTIME = ("bin", "sqlalchemy/testing", "alembic/testing", ".lock")
# Never copied into the asset nor hashed.
_IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests", ".DS_Store")
_ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}


class BundlingError(RuntimeError):
    """The asset could not be built; the message says what to install or change."""


Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"[migration-hook bundling] {message}", file=sys.stderr, flush=True)


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
        if self.architecture not in _ARCHITECTURES:
            raise ValueError(f"architecture {self.architecture!r} is not one of {sorted(_ARCHITECTURES)}")

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
        return f"manylinux2014_{_ARCHITECTURES[self.architecture]}"

    @property
    def uv_platform(self) -> str:
        return f"{_ARCHITECTURES[self.architecture]}-manylinux2014"


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
            for relative, path in _walk(root):
                digest.update(f"{relative}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        if self.ca_bundle is not None:
            digest.update(b"\0ca\0" + self.ca_bundle.fingerprint().encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class BundleReport:
    python: str
    platform: str
    bytecode_python: str | None
    boto3: str  # "runtime" or "bundled"
    packages: dict[str, str]
    ca_certificates: str | None

    def as_manifest(self) -> dict[str, object]:
        return {
            "format": BUNDLE_FORMAT,
            "python": self.python,
            "platform": self.platform,
            "bytecode": f"cpython-{self.python.replace('.', '')} unchecked-hash" if self.bytecode_python else None,
            "boto3": self.boto3,
            "packages": self.packages,
            "ca_bundle": self.ca_certificates,
        }


def build_bundle(spec: HookBundleSpec, output_dir: Path, *, log: Log = _stderr) -> BundleReport:
    """Build the asset into ``output_dir`` (which CDK hands over empty)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    uv = find_uv()
    # Decided first, so a required-but-missing interpreter fails before anything is installed.
    interpreter = find_python(spec.target.version)
    if interpreter is None:
        message = (
            f"NO BYTECODE: no Python {spec.target.version} interpreter found (looked at $LAMBDA_PYTHON_"
            f"{spec.target.version.replace('.', '_')}, the running Python, python{spec.target.version} on "
            "PATH, pyenv and uv installs). The asset works but every cold start compiles all modules "
            f"(~2.6 s instead of ~0.9 s). Install Python {spec.target.version} to fix this."
        )
        if spec.require_bytecode:
            raise BundlingError(message)
        log(message)
    with tempfile.TemporaryDirectory(prefix="hook-bundle-") as work_dir:
        work = Path(work_dir)
        requirements = work / "requirements.txt"
        requirements.write_text(export_requirements(spec, uv=uv, cwd=work))
        _install(spec, uv=uv, requirements=requirements, output_dir=output_dir, cwd=work)
    # Console scripts (alembic, mako-render, ...) cannot run on Lambda and only add weight; the test
    # frameworks of SQLAlchemy and Alembic are imported only by their own test suites (pytest plugins);
    # uv leaves its lock file in the target.
    for leftover in UNUSED_AT_RUNTIME:
        path = output_dir / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    if spec.strip_debug_info:
        strip_debug_info(output_dir, spec.target, log=log)
    packages = installed_packages(output_dir)
    _check_runtime_compatibility(spec, packages)

    _copy_tree(spec.hook_root / HANDLER_PACKAGE, output_dir / HANDLER_PACKAGE)
    _copy_tree(spec.script_location, output_dir / MIGRATIONS_DIR)
    shutil.copyfile(spec.alembic_ini, output_dir / ALEMBIC_INI)
    for source in spec.extra_source_dirs:
        if (output_dir / source.name).exists():
            raise BundlingError(f"extra source folder {source.name!r} clashes with an installed package")
        _copy_tree(source, output_dir / source.name)
    write_heads_manifest(spec, output_dir, log=log)
    ca_path: str | None = None
    if spec.ca_bundle is not None:
        target = output_dir / CA_BUNDLE_PATH
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(spec.ca_bundle.read_pem(), encoding="ascii")
        ca_path = CA_BUNDLE_PATH

    if interpreter is not None:
        compile_bytecode(interpreter, output_dir)

    report = BundleReport(
        python=spec.target.version,
        platform=spec.target.platform_tag,
        bytecode_python=interpreter,
        boto3="bundled" if "boto3" in packages else "runtime",
        packages=packages,
        ca_certificates=ca_path,
    )
    (output_dir / MANIFEST).write_text(json.dumps(report.as_manifest(), indent=2, sort_keys=True) + "\n")
    log(
        f"built for python{spec.target.version} {spec.target.platform_tag}: {len(packages)} packages, "
        f"boto3 from the {report.boto3 if report.boto3 == 'runtime' else 'asset'}, "
        f"bytecode {'by ' + interpreter if interpreter else 'MISSING'}"
    )
    return report


def write_heads_manifest(spec: HookBundleSpec, output_dir: Path, *, log: Log = _stderr) -> None:
    """Record the migration heads with the revision files' fingerprint (lambda_fn/engine/heads_index.py), so
    a cold start answers "already at head" without importing every revision. Only an optimisation: when the
    revisions cannot be imported here (say they need the service's own packages), the function finds the
    heads itself at run time."""
    try:
        read_heads(spec.hook_root, output_dir / ALEMBIC_INI, output_dir / MIGRATIONS_DIR,
                   spec.extra_source_dirs, write=True)
    except BundlingError as exc:
        log(f"heads manifest skipped (the function will find the heads at run time): {exc}")


def read_heads(hook_root: Path, alembic_ini: Path, script_location: Path, extra_source_dirs: Iterable[Path] = (),
               *, write: bool = False) -> tuple[str, ...]:
    """The project's heads, the one way every build step learns them: `python -m lambda_fn.cli.manifest` in
    a subprocess with the service's folders on PYTHONPATH (the revisions may import them), so nothing edits
    this process's `sys.path`. With `write`, the manifest is also written next to env.py."""
    paths = [str(hook_root), *(str(Path(d).parent) for d in extra_source_dirs)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "lambda_fn.cli.manifest", str(alembic_ini), str(script_location),
         *(["--write"] if write else [])],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise BundlingError(done.stderr.strip()[-500:] or f"exit {done.returncode}")
    return tuple(json.loads(done.stdout)["heads"])


def export_requirements(spec: HookBundleSpec, *, uv: str, cwd: Path) -> str:
    """The hook's runtime dependencies as pinned in uv.lock, minus what the runtime provides."""
    done = _run(
        [
            uv,
            "export",
            "--project",
            str(spec.hook_root),
            "--frozen",
            "--no-default-groups",
            "--no-emit-project",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--format",
            "requirements-txt",
        ],
        cwd=cwd,
        what="uv export",
    )
    lines = []
    for line in done.splitlines():
        name = _requirement_name(line)
        if name is None:
            continue
        if spec.boto3_from_runtime and name in RUNTIME_PROVIDED:
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def _install(spec: HookBundleSpec, *, uv: str, requirements: Path, output_dir: Path, cwd: Path) -> None:
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
    _run(command, cwd=cwd, what="uv pip install")


def _check_runtime_compatibility(spec: HookBundleSpec, packages: dict[str, str]) -> None:
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


def strip_debug_info(root: Path, target: LambdaPython, *, log: Log = _stderr) -> None:
    """Drop DWARF debug sections from the wheels' shared objects (``strip --strip-debug``: code and
    symbols untouched). SQLAlchemy's Cython extensions ship unstripped: 9.2 MB, 1.3 MB stripped."""
    objects = sorted(root.rglob("*.so"))
    if not objects:
        return
    tool = find_strip(objects[0])
    if tool is None:
        log(f"debug info NOT stripped: no strip tool for {target.architecture} ELF (asset ~2 MB larger zipped)")
        return
    _run([tool, "--strip-debug", *map(str, objects)], cwd=root, what="strip")


def compile_bytecode(interpreter: str, root: Path) -> None:
    """Compile every module for the runtime's Python, hash-checked against nothing (unchecked-hash):
    the files never change on Lambda, and mtime-based pyc would be rejected after the zip round trip."""
    _run(
        [
            interpreter, "-m", "compileall", "-q", "-j", "0",
            "--invalidation-mode", "unchecked-hash",
            # Record /var/task paths instead of this machine's temporary directory: reproducible bytes.
            "-s", str(root), "-p", LAMBDA_TASK_ROOT,
            str(root),
        ],
        cwd=root,
        what="compileall",
    )  # fmt: skip


def installed_packages(root: Path) -> dict[str, str]:
    """Distribution name -> version for every ``*.dist-info`` at the asset root."""
    packages: dict[str, str] = {}
    for info in sorted(root.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        packages[_normalise(name)] = version
    return packages


@functools.cache
def find_uv() -> str:
    """A working uv. pyenv shims resolve the tool per directory and may fail inside a project whose
    .python-version names another interpreter, so each candidate is tried from a neutral directory."""
    candidates = [os.environ.get("UV"), shutil.which("uv"), str(Path(sys.executable).with_name("uv"))]
    for candidate in candidates:
        if candidate and _works([candidate, "--version"]):
            return candidate
    raise BundlingError("uv is required to bundle the migration function: install it or set $UV to its path")


def find_strip(sample: Path) -> str | None:
    """A strip that understands ``sample`` (a shared object of the target architecture): GNU strip
    handles only the host's ELF family unless built multi-arch, so each candidate is tried on a copy."""
    candidates = ["llvm-strip", "strip", "x86_64-linux-gnu-strip", "aarch64-linux-gnu-strip"]
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch, sample.name)
        for candidate in candidates:
            tool = shutil.which(candidate)
            if tool is None:
                continue
            shutil.copyfile(sample, probe)
            if _works([tool, "--strip-debug", str(probe)]):
                return tool
    return None


@functools.cache
def find_python(version: str) -> str | None:
    """An interpreter of exactly ``version`` (bytecode is specific to the minor version), or None."""
    env_name = f"LAMBDA_PYTHON_{version.replace('.', '_')}"
    candidates: list[str | None] = [os.environ.get(env_name)]
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidates.append(sys.executable)
    candidates.append(shutil.which(f"python{version}"))
    # Look inside pyenv and uv installs directly: their shims are unreliable from inside a project.
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    uv_root = Path(os.environ.get("UV_PYTHON_INSTALL_DIR", Path.home() / ".local/share/uv/python"))
    for pattern_root, pattern in ((pyenv_root / "versions", f"{version}.*"), (uv_root, f"cpython-{version}.*")):
        for install in sorted(pattern_root.glob(pattern), key=_version_key, reverse=True):
            candidates.append(str(install / "bin" / f"python{version}"))
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _works([candidate, "-I", "-c", probe], expect=version):
            return candidate
    return None


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)[:3])


def _works(command: list[str], *, expect: str | None = None) -> bool:
    try:
        done = subprocess.run(
            command, cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return False
    return done.returncode == 0 and (expect is None or done.stdout.strip() == expect)


def _run(command: list[str], *, cwd: Path, what: str) -> str:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise BundlingError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def _requirement_name(line: str) -> str | None:
    line = line.strip()
    if not line or line.startswith(("#", "-")):
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return _normalise(match.group(0)) if match else None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _ignored(name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in _IGNORED)


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Files under ``root`` (or ``root`` itself), sorted, skipping what is never bundled."""
    if root.is_file():
        yield root.name, root
        return
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for filename in sorted(f for f in filenames if not _ignored(f)):
            path = Path(directory, filename)
            yield path.relative_to(root).as_posix(), path


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=lambda _dir, names: [n for n in names if _ignored(n)])


@jsii.implements(ILocalBundling)
class LocalHookBundler:
    """CDK local bundling hook. ``try_bundle`` never returns False: the Docker fallback is not supported,
    so a failure raises with the reason instead of silently trying Docker."""

    def __init__(self, spec: HookBundleSpec, *, log: Log = _stderr) -> None:
        self.spec = spec
        self.log = log

    # jsii calls this positionally: (outputDir, options). The keyword-only signature some docs show fails.
    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        build_bundle(self.spec, Path(output_dir), log=self.log)
        return True


def iter_asset_files(root: Path) -> Iterable[Path]:
    """Every file of a built asset (for measuring and tests)."""
    return (p for p in sorted(root.rglob("*")) if p.is_file())

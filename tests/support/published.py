"""Published projects' migration histories, installed from PyPI into the tests' own virtualenvs.

Each project has a pinned current release (the hook migrates with it) and a pinned older release (it creates
the "existing database" the way that release's users got it). A virtualenv per pinned requirement set lives
under ~/.cache/alembic-hook-tests/ (ALEMBIC_HOOK_TEST_CACHE overrides), keyed by a hash of exactly what is
installed into it, so a re-run reuses it and a changed pin builds a new one. uv builds them (it is the repo's
own tool); a fresh CI machine builds them once per job.

The hook itself is not installed into those virtualenvs: its runtime dependencies are (from pyproject.toml,
so the resolver proves the hook installs next to that release), and it runs from this checkout
(PYTHONPATH), so the code under test is always the working tree's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import REPO

CACHE = Path(
    os.environ.get("ALEMBIC_HOOK_TEST_CACHE", Path.home() / ".cache" / "alembic-hook-tests")
)


@dataclass(frozen=True)
class Project:
    """One published project: where its migrations sit inside the installed package, and how its own
    tool would build the alembic.ini (most ship one; jupyterhub writes it from a template)."""

    name: str
    current: str  # the pinned release the hook migrates with
    older: str  # the pinned older release that creates the "existing" database
    package: str  # importable package holding the migrations
    ini: str  # alembic.ini, relative to the package folder
    script_location: str  # the migrations folder, relative to the package folder
    extra: tuple[str, ...] = ()  # what the project needs but does not declare for its migrations
    older_extra: tuple[str, ...] = ()  # the same, for the older release
    write_ini: str | None = None  # python code run in the venv to write the ini to sys.argv[1]
    # what the team adds to its copy of the project's ini: `[alembic_hook] acknowledge` lines for findings in
    # a history it cannot edit (docs/safety-gate.md), each with the reason a reviewer would give
    acknowledge: tuple[str, ...] = ()
    # the project's own first step on an empty database before any migration (code given the psycopg2 URL
    # as sys.argv[1]); None when its history starts from nothing
    initial: str | None = None
    # how the older release's users got their database (its own tool; code given the URL); None: stock alembic
    older_tool: str | None = None
    from_empty: bool = (
        True  # False: the project's tool never migrates an empty database (it stamps)
    )
    expected_revisions: int = 0  # what the current release's history holds (the report's number)


def hook_requirements() -> list[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [str(d) for d in data["project"]["dependencies"]]


@dataclass
class Venv:
    root: Path
    requirements: tuple[str, ...]
    marker: Path = field(init=False)

    def __post_init__(self) -> None:
        self.marker = self.root / ".complete"

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def ensure(self) -> Venv:
        if self.marker.is_file():
            return self
        if self.root.exists():
            shutil.rmtree(self.root)  # a build that was interrupted: start it again
        self.root.parent.mkdir(parents=True, exist_ok=True)
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(self.root)], check=True)
        done = subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(self.python), *self.requirements],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"installing {self.requirements} failed:\n{done.stderr[-4000:]}")
        self.marker.write_text("\n".join(self.requirements))
        return self

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        full.update(env or {})
        done = subprocess.run(
            [str(self.python), *args],
            env=full,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{args[:3]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                f"{done.stderr[-3000:]}"
            )
        return done

    def package_dir(self, package: str) -> Path:
        code = f"import importlib.util as u; print(u.find_spec({package!r}).submodule_search_locations[0])"
        out = self.run("-c", code)
        return Path(out.stdout.strip())


def venv(requirements: list[str]) -> Venv:
    key = hashlib.sha256(json.dumps(sorted(requirements)).encode()).hexdigest()[:16]
    return Venv(
        CACHE / f"{sys.version_info.major}.{sys.version_info.minor}-{key}", tuple(requirements)
    )


def hook_venv(project: Project) -> Venv:
    """The current release, psycopg2 (for the stock comparison) and the hook's own dependencies."""
    return venv([project.current, *project.extra, "psycopg2-binary", *hook_requirements()]).ensure()


def older_venv(project: Project) -> Venv:
    return venv(
        [project.older, *project.older_extra, "psycopg2-binary", "alembic", "sqlalchemy"]
    ).ensure()


@dataclass(frozen=True)
class Installed:
    """A project release installed in a venv: its ini and migrations folder."""

    project: Project
    venv: Venv
    ini: Path
    script_location: Path


def installed(project: Project, env: Venv, work: Path) -> Installed:
    pkg = env.package_dir(project.package)
    ini = pkg / project.ini
    if project.write_ini:
        work.mkdir(parents=True, exist_ok=True)
        ini = work / f"{project.name}-alembic.ini"
        env.run("-c", project.write_ini, str(ini))
    if project.acknowledge:
        work.mkdir(parents=True, exist_ok=True)
        team = work / f"{project.name}-team-alembic.ini"
        lines = "".join(f"    {line}\n" for line in project.acknowledge)
        team.write_text(ini.read_text() + f"\n[alembic_hook]\nacknowledge =\n{lines}")
        ini = team
    return Installed(project, env, ini, pkg / project.script_location)


STOCK_UPGRADE = """\
import sys
from alembic import command
from alembic.config import Config
ini, location, url = sys.argv[1:4]
cfg = Config(ini)
cfg.set_main_option("script_location", location)
cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
command.upgrade(cfg, "head")
"""


def stock_upgrade(release: Installed, url: str) -> None:
    """Stock `alembic upgrade head` over psycopg2: what the project's users run (or its tool runs for them)."""
    release.venv.run(
        "-c",
        STOCK_UPGRADE,
        str(release.ini),
        str(release.script_location),
        url.replace("postgresql://", "postgresql+psycopg2://", 1),
    )


def project_tool(release: Installed, code: str, url: str) -> None:
    release.venv.run("-c", code, url.replace("postgresql://", "postgresql+psycopg2://", 1))


def count_revisions(release: Installed) -> int:
    code = (
        "import sys\nfrom alembic.config import Config\nfrom alembic.script import ScriptDirectory\n"
        "cfg = Config(sys.argv[1]); cfg.set_main_option('script_location', sys.argv[2])\n"
        "print(sum(1 for _ in ScriptDirectory.from_config(cfg).walk_revisions()))"
    )
    return int(
        release.venv.run("-c", code, str(release.ini), str(release.script_location)).stdout.strip()
    )


def hook_cli(release: Installed, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`alembic-hook ARGS --json` from this checkout, in the release's venv, against `url`."""
    env = {
        "DATABASE_URL": url,
        "ALEMBIC_CONFIG": str(release.ini),
        "ALEMBIC_SCRIPT_LOCATION": str(release.script_location),
        "PYTHONPATH": str(REPO),
    }
    return release.venv.run("-m", "lambda_fn.cli", *args, "--json", env=env, check=False)


def schema(url: str, bindir: Path | None = None) -> str:
    """`pg_dump -s` of the database without the hook's own tables, normalised to what the schema says."""
    pg_dump = str(bindir / "pg_dump") if bindir else shutil.which("pg_dump") or "pg_dump"
    args = [
        pg_dump,
        "-s",
        "--no-owner",
        "--no-privileges",
        "--exclude-table=alembic_hook_*",
        "--dbname",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    lines = [
        line
        for line in done.stdout.splitlines()
        if line.strip()
        and not line.startswith(("--", "\\restrict", "\\unrestrict", "SET ", "SELECT pg_catalog"))
    ]
    return "\n".join(lines)


JUPYTERHUB_INI = "import sys; from jupyterhub.dbutil import write_alembic_ini; write_alembic_ini(sys.argv[1], 'sqlite://')"
# jupyterhub's own start on a database: create_all and stamp head when empty (orm.new_session_factory)
JUPYTERHUB_TOOL = (
    "import sys; from jupyterhub.orm import new_session_factory; new_session_factory(sys.argv[1])"
)
# mlflow's own start (mlflow.store.db.utils._initialize_tables): the initial tables, then its migrations
MLFLOW_INITIAL = (
    "import sys, sqlalchemy; from mlflow.store.tracking.dbmodels.initial_models import Base; "
    "Base.metadata.create_all(sqlalchemy.create_engine(sys.argv[1]))"
)
MLFLOW_TOOL = (
    "import sys, sqlalchemy; from mlflow.store.db.utils import _initialize_tables; "
    "_initialize_tables(sqlalchemy.create_engine(sys.argv[1]))"
)

PROJECTS = [
    Project(
        "optuna",
        "optuna==5.0.0",
        "optuna==2.10.1",
        "optuna",
        "storages/_rdb/alembic.ini",
        "storages/_rdb/alembic",
        expected_revisions=10,
    ),
    Project(
        "jupyterhub",
        "jupyterhub==6.1.1",
        "jupyterhub==4.1.6",
        "jupyterhub",
        "alembic.ini",
        "alembic",
        write_ini=JUPYTERHUB_INI,
        older_tool=JUPYTERHUB_TOOL,
        from_empty=False,
        expected_revisions=19,
    ),
    Project(
        "mlflow",
        "mlflow-skinny==3.17.2",
        "mlflow-skinny==2.9.2",
        "mlflow",
        "store/db_migrations/alembic.ini",
        "store/db_migrations",
        older_extra=("setuptools<81", "sqlalchemy<2.1", "alembic<1.14"),
        initial=MLFLOW_INITIAL,
        older_tool=MLFLOW_TOOL,
        expected_revisions=67,
        acknowledge=(
            "cfd24bdc0731 ban-drop-constraint: the status CHECK is replaced in the same revision by "
            "the Enum's wider one (adds KILLED): every value the old code writes still passes",
        ),
    ),
]

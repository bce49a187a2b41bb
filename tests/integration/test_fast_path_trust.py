"""The fast path answers only what it cannot have remembered wrongly (issue 18, points 1 and 4): an env.py
whose version table comes from the environment (one per tenant) is answered per tenant, and a cache entry
planted in a shared temp directory is never believed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lambda_fn import handler as handler_module
from lambda_fn.contract import Status
from lambda_fn.engine import cache, heads_manifest
from tests.support.database import Database
from tests.support.engine import run
from tests.support.inprocess import FakeContext
from tests.support.paths import REPO
from tests.support.projects import chain, write_project

TENANT_CONFIGURE = (
    "context.configure(connection=connection, "
    "version_table='alembic_version_' + os.environ['TENANT'],"
)


def tenant_project(root: Path, revisions: int = 3) -> Path:
    """A project whose env.py keeps one version table per tenant, named from $TENANT."""
    ini = write_project(root, chain(revisions))
    env_py = root / "migrations" / "env.py"
    source = env_py.read_text()
    assert "context.configure(connection=connection," in source
    env_py.write_text(source.replace("context.configure(connection=connection,", TENANT_CONFIGURE))
    return ini


def tenant_head(db: Database, tenant: str) -> list[list[object]]:
    table = f"alembic_version_{tenant}"
    if not db.query("SELECT to_regclass(:t) IS NOT NULL", t=table)[0][0]:
        return []
    return db.query(f"SELECT version_num FROM {table}")


def cli(args: list[str], env: dict[str, str]) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "alembic-hook"), *args, "--json"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_a_per_tenant_version_table_migrates_each_tenant_through_the_cli(
    db: Database, tmp_path: Path
) -> None:
    ini = tenant_project(tmp_path / "project")
    # one machine's temp directory: the cache the second process would trust
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    env = {**db.env(ALEMBIC_CONFIG=str(ini)), "TMPDIR": str(shared_tmp)}
    code, a = cli(["upgrade"], {**env, "TENANT": "a"})
    assert (code, a["status"]) == (0, "applied") and tenant_head(db, "a") == [["r0002"]]
    code, a_again = cli(["upgrade"], {**env, "TENANT": "a"})
    # the fast path still answers for the same tenant
    assert (code, a_again["status"]) == (
        0,
        "up_to_date",
    )

    code, b = cli(["upgrade"], {**env, "TENANT": "b"})
    # not "already at r0002"
    assert (code, b["status"], b["to_revision"]) == (
        0,
        "applied",
        "r0002",
    )
    assert tenant_head(db, "b") == [["r0002"]]  # read back: tenant b really migrated
    code, b_again = cli(["upgrade"], {**env, "TENANT": "b"})
    assert (code, b_again["status"]) == (0, "up_to_date")


def test_a_per_tenant_version_table_migrates_each_tenant_through_the_handler(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = tenant_project(tmp_path)
    for key, value in db.env(ALEMBIC_CONFIG=str(ini)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TENANT", "a")
    assert handler_module.handler({}, FakeContext())["status"] == "applied"
    # warm: the fast path
    assert handler_module.handler({}, FakeContext())["status"] == "up_to_date"
    monkeypatch.setenv("TENANT", "b")  # the same warm process, another tenant
    reply = handler_module.handler({}, FakeContext())
    assert (reply["status"], reply["to_revision"]) == ("applied", "r0002")
    assert tenant_head(db, "b") == [["r0002"]] and tenant_head(db, "a") == [["r0002"]]


def test_a_build_manifest_is_trusted_only_for_the_tenant_it_was_built_with(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = tenant_project(tmp_path / "project")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # no cache from other tests
    # offline, the example env.py reads no TENANT: make the build see one, as a build with TENANT=a would
    env_py = tmp_path / "project" / "migrations" / "env.py"
    env_py.write_text(
        env_py.read_text().replace(
            "literal_binds=True,",
            "literal_binds=True, version_table='alembic_version_' + os.environ['TENANT'],",
        )
    )
    build = subprocess.run(
        [sys.executable, "-m", "lambda_fn.cli.build_heads", str(ini), "--write"],
        cwd=REPO,
        env={**os.environ, "TENANT": "a"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(build.stdout)["version_table"] == "alembic_version_a"
    env = db.env(ALEMBIC_CONFIG=str(ini))
    monkeypatch.setenv("TENANT", "a")
    assert run(env).status is Status.APPLIED
    monkeypatch.setenv("TENANT", "b")
    result = run(env)
    assert result.status is Status.APPLIED and tenant_head(db, "b") == [["r0002"]]


def plant(directory: Path, fp: str, heads: list[str], env_fp: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"heads-{fp}.json").write_text(json.dumps({"fingerprint": fp, "heads": heads}))
    (directory / f"env-{env_fp}.json").write_text(
        json.dumps(
            {
                "env_fingerprint": env_fp,
                "version_table": "alembic_version",
                "version_table_schema": None,
                "environment": {},
                "environment_whole": False,
            }
        )
    )


@pytest.mark.parametrize(
    "where", ["shared-directory", "world-writable-private-directory", "another-owner"]
)
def test_a_planted_cache_entry_is_ignored(
    where: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = write_project(tmp_path / "project", chain(3))
    env = db.env(ALEMBIC_CONFIG=str(ini))
    # the database at r0000; the head is r0002
    assert run(env, revision="r0000").status is Status.APPLIED
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    scripts = tmp_path / "project" / "migrations"
    fp = heads_manifest.fingerprint([scripts / "versions"])
    env_fp = heads_manifest.env_fingerprint(scripts / "env.py", ini)
    if where == "shared-directory":  # where every user's runs once looked
        plant(shared / "alembic-hook", fp, ["r0000"], env_fp)
        (shared / "alembic-hook").chmod(0o777)
        planted = shared / "alembic-hook"
    else:
        planted = cache.cache_dir()
        plant(planted, fp, ["r0000"], env_fp)
        if where == "world-writable-private-directory":
            planted.chmod(0o777)
        else:
            for entry in planted.iterdir():
                # nobody's: the tests run as root, which may hand files away
                os.chown(entry, 65534, 65534)
    assert any(planted.iterdir())
    # a new process, as the next CLI run on a shared host is: nothing remembered in memory
    monkeypatch.setattr(heads_manifest, "_heads_hits", {})
    monkeypatch.setattr(heads_manifest, "_version_hits", {})
    result = run(env)
    assert result.status is Status.APPLIED and result.to_revision == "r0002", result.message
    assert db.version() == ["r0002"]

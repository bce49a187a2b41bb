"""The content-keyed heads index: fast for 1,000 revisions, never stale."""

from __future__ import annotations

import json
from pathlib import Path

from lambda_fn.cli import build_heads
from lambda_fn.contract import Status
from lambda_fn.engine import heads_manifest
from lambda_fn.engine.project import AlembicProject
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev, chain, write_project, write_revision


def test_a_new_revision_is_seen_even_after_heads_were_remembered(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(tmp_path, chain(3))
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env).status is Status.APPLIED
    assert run(env).status is Status.UP_TO_DATE  # answered from the index
    write_revision(tmp_path, Rev("r0003", "r0002", "op.execute('CREATE TABLE late (id int)')"))
    result = run(env)
    assert result.status is Status.APPLIED and [r.revision for r in result.applied] == ["r0003"]


def test_a_lying_manifest_is_ignored(tmp_path: Path) -> None:
    ini = write_project(tmp_path, chain(2))
    manifest = tmp_path / "migrations" / heads_manifest.HEADS_MANIFEST
    manifest.write_text(json.dumps({"fingerprint": "not-this-content", "heads": ["bogus"]}))
    assert AlembicProject(str(ini)).heads() == ("r0001",)


def test_build_time_manifest_answers_without_importing_revisions(tmp_path: Path) -> None:
    ini = write_project(tmp_path, chain(5))
    assert build_heads.main([str(ini), "--write"]) == 0
    project = AlembicProject(str(ini))
    assert project.heads() == ("r0004",)
    assert "_revision_map" not in project.script.revision_map.__dict__  # the map was never built

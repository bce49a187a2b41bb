"""Published projects' whole migration histories, unmodified, installed from PyPI (tests/support/published.py):
through the hook's CLI, each from an empty database and from a database an older release created, the schema
(`pg_dump -s`, without the hook's own tables) is exactly what stock `alembic upgrade head` over psycopg2
builds from the same starting point. The CLI's stdout is one JSON object, whatever the project prints or logs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.database import Database, create_database
from tests.support.published import (
    PROJECTS,
    Installed,
    Project,
    count_revisions,
    hook_cli,
    hook_venv,
    installed,
    older_venv,
    project_tool,
    schema,
    stock_upgrade,
)
from tools.localpg import LocalPostgres

pytestmark = pytest.mark.timeout(900)


# jupyterhub never migrates an empty database: its tool creates the current tables and stamps head
FROM_EMPTY = [p for p in PROJECTS if p.from_empty]


def hook_json(release: Installed, db: Database, *args: str) -> dict[str, object]:
    done = hook_cli(release, db.url, *args)
    try:
        result = json.loads(done.stdout)  # the whole of stdout: one JSON object and nothing else
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"stdout is not one JSON object ({exc}):\n{done.stdout[:3000]}\n{done.stderr[-3000:]}"
        ) from None
    assert isinstance(result, dict)
    assert result["status"] != "failed", (result.get("message"), done.stderr[-3000:])
    return result


def hook_upgrade(release: Installed, db: Database) -> dict[str, object]:
    """A team's deploy of a history it cannot edit: rehearsed on a copy first (revisions that read the database
    cannot be judged offline; the gate takes the measurement over the guess), then the real upgrade, gate on."""
    copy = create_database(db.cluster, template=db)
    hook_json(release, db, "rehearse", "--on", copy.url)
    result = hook_json(release, db, "upgrade")
    assert result["status"] == "applied", result.get("message")
    return result


def same_schema(hooked: Database, stock: Database, bindir: Path) -> None:
    ours, theirs = schema(hooked.url, bindir), schema(stock.url, bindir)
    assert ours == theirs
    assert "CREATE TABLE" in ours  # the comparison compared something
    assert hooked.version() == stock.version() != []


@pytest.mark.parametrize("project", FROM_EMPTY, ids=[p.name for p in FROM_EMPTY])
def test_from_an_empty_database(project: Project, pg: LocalPostgres, tmp_path: Path) -> None:
    current = installed(project, hook_venv(project), tmp_path)
    assert count_revisions(current) == project.expected_revisions
    hooked, stock = create_database(pg), create_database(pg)
    if project.initial:  # the project's own first step, which its migrations build on
        for db in (hooked, stock):
            project_tool(current, project.initial, db.url)
    result = hook_upgrade(current, hooked)
    assert len(result["applied"]) == project.expected_revisions  # type: ignore[arg-type]
    stock_upgrade(current, stock.url)
    same_schema(hooked, stock, pg.bindir)


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_from_a_database_an_older_release_created(
    project: Project, pg: LocalPostgres, tmp_path: Path
) -> None:
    older = installed(project, older_venv(project), tmp_path / "older")
    current = installed(project, hook_venv(project), tmp_path / "current")
    hooked, stock = create_database(pg), create_database(pg)
    for db in (hooked, stock):
        if project.older_tool:
            project_tool(older, project.older_tool, db.url)
        else:
            stock_upgrade(older, db.url)
    started_at = hooked.version()
    assert started_at and started_at == stock.version()
    result = hook_upgrade(current, hooked)
    assert result["from_revision"] == started_at[0]
    assert 0 < len(result["applied"]) < project.expected_revisions  # type: ignore[arg-type]
    stock_upgrade(current, stock.url)
    same_schema(hooked, stock, pg.bindir)

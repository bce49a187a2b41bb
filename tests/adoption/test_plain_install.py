"""`pip install alembic-deploy-hook` into a clean virtualenv, then the CLI on a fresh `alembic init` project:
it lints (squawk comes with the package) and migrates a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.adoption.conftest import clean_env, make_venv, run
from tests.support.database import Database

REVISION = '''"""create {table}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
                    sa.Column("name", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("{table}")
'''


def write_revisions(versions: Path) -> None:
    versions.joinpath("a1_users.py").write_text(
        REVISION.format(table="users", rev="a1", down="None")
    )
    versions.joinpath("a2_items.py").write_text(
        REVISION.format(table="items", rev="a2", down='"a1"')
    )


def test_pip_install_then_lint_and_upgrade_a_fresh_alembic_project(
    dist: Path, tmp_path: Path, db: Database
) -> None:
    python = make_venv(tmp_path, dist)
    bin_dir = python.parent
    # nothing of the CDK side came with a plain install
    probe = run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('aws_cdk') is None)"],
        cwd=tmp_path,
        env=clean_env(),
    )
    assert probe.stdout.strip() == "True"
    project = tmp_path / "service"
    project.mkdir()
    run([str(bin_dir / "alembic"), "init", "alembic"], cwd=project, env=clean_env())
    write_revisions(project / "alembic" / "versions")
    env = clean_env(DATABASE_URL=db.url)

    lint = run([str(bin_dir / "alembic-hook"), "--json", "lint"], cwd=project, env=env, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    linted = json.loads(lint.stdout)
    assert linted["status"] != "failed"
    assert "lint-unavailable" not in lint.stdout  # the linter came with the package

    upgrade = run(
        [str(bin_dir / "alembic-hook"), "upgrade", "--json"], cwd=project, env=env, check=False
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    result = json.loads(upgrade.stdout)
    assert result["status"] == "applied" and [a["revision"] for a in result["applied"]] == [
        "a1",
        "a2",
    ]
    # read back: the tables and the version the CLI says it applied
    assert db.version() == ["a2"]
    assert db.query(
        "SELECT to_regclass('users') IS NOT NULL, to_regclass('items') IS NOT NULL"
    ) == [[True, True]]

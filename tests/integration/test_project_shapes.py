"""Small fixture projects for the shapes the published ones do not all have: a revision whose parameters
pg8000 would type differently from psycopg2, an enum type created by one revision's create_table and named
again by a later one, a redundant merge, and revisions that print and log to stdout under `--json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_fn.contract import Status
from lambda_fn.deadline import Deadline
from lambda_fn.engine.execute import execute
from lambda_fn.request import Command, Request
from lambda_fn.result import Result
from lambda_fn.settings import Settings
from tests.support.database import Database
from tests.support.engine import run
from tests.support.projects import Rev, write_project, write_revision

NO_LINT = ["--no-lint", "fixture project", "--confirm-no-lint"]

DRIVER_TYPING = [
    Rev(
        "d1",
        None,
        """
        op.create_table('t', sa.Column('id', sa.Integer, primary_key=True), sa.Column('n', sa.Integer),
                        sa.Column('doc', sa.JSON))
        op.execute("INSERT INTO t (id, n) VALUES (1, 5)")
    """,
    ),
    # psycopg2 sends '0' untyped and PostgreSQL infers integer; pg8000's own dialect says %s::VARCHAR (42804)
    Rev(
        "d2",
        "d1",
        """
        t = sa.table('t', sa.column('n', sa.Integer))
        op.execute(sa.update(t).values(n=sa.literal('0')))
    """,
    ),
    # an untyped parameter in a variadic "any" function: 42P18 as a protocol parameter, text as a literal
    Rev(
        "d3",
        "d2",
        """
        t = sa.table('t', sa.column('doc', sa.JSON))
        op.get_bind().execute(sa.update(t).values(doc=sa.func.json_build_object('prefix', sa.bindparam('p'))),
                              {'p': "it's 100% \\\\ fine"})
    """,
    ),
]


def test_parameters_behave_as_under_psycopg2(db: Database, tmp_path: Path) -> None:
    ini = write_project(tmp_path, DRIVER_TYPING)
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.status is Status.APPLIED, result.message
    assert db.query("SELECT n, doc::text FROM t") == [[0, '{"prefix" : "it\'s 100% \\\\ fine"}']]


ENUM_TWICE = [
    Rev(
        "e1",
        None,
        "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True), "
        "sa.Column('mood', sa.Enum('happy', 'sad', name='mood')))",
    ),
    Rev(
        "e2",
        "e1",
        "op.create_table('b', sa.Column('id', sa.Integer, primary_key=True), "
        "sa.Column('mood', sa.Enum('happy', 'sad', name='mood')))",
    ),
]


def test_an_enum_type_named_again_in_the_same_run(db: Database, tmp_path: Path) -> None:
    ini = write_project(tmp_path, ENUM_TWICE)
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.status is Status.APPLIED, result.message
    assert [r.revision for r in result.applied] == ["e1", "e2"] and db.version() == ["e2"]
    assert db.query("SELECT count(*) FROM pg_type WHERE typname = 'mood'") == [[1]]
    assert db.query(
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'mood'"
    ) == [[2]]


REDUNDANT_MERGE = [
    Rev("m1", None, "op.create_table('m', sa.Column('id', sa.Integer, primary_key=True))"),
    Rev("m2", "m1", "op.add_column('m', sa.Column('x', sa.Integer))"),
    Rev("m3", ("m1", "m2"), doc="a merge that lists m1, an ancestor of m2"),
    Rev("m4", "m3", "op.add_column('m', sa.Column('y', sa.Integer))"),
]


def test_a_redundant_merge_renders_and_upgrades(db: Database, tmp_path: Path) -> None:
    ini = write_project(tmp_path, REDUNDANT_MERGE)
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env, "upgrade", "m2").status is Status.APPLIED
    sql = run(env, "sql")  # from m2: the merge's parents (m1, m2) are the starting point
    assert sql.status is Status.PENDING, sql.message
    assert "ADD COLUMN y" in (sql.sql or "")
    lint = run(env, "lint")
    assert lint.status is not Status.FAILED or "overlaps" not in lint.message, lint.message
    result = run(env, "upgrade")  # the gate renders the range offline first
    assert result.status is Status.APPLIED, result.message
    assert db.version() == ["m4"]


NOISY = [
    Rev(
        "n1",
        None,
        """
        import logging, os
        print('a print() from a revision')
        logging.getLogger('project').info('an INFO line from a revision')
        os.write(1, b'raw bytes on fd 1\\n')
        op.create_table('noisy', sa.Column('id', sa.Integer, primary_key=True))
    """,
    ),
]


def test_json_stdout_is_one_object_whatever_the_project_prints(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(tmp_path, NOISY)
    env_py = tmp_path / "migrations" / "env.py"
    # a project that configures its own logging to stdout at INFO, and prints as env.py loads
    env_py.write_text(
        "import logging, sys\nlogging.basicConfig(stream=sys.stdout, level=logging.INFO)\n"
        "print('env.py loading')\n" + env_py.read_text()
    )
    env = {**os.environ, **db.env(ALEMBIC_CONFIG=str(ini))}
    done = subprocess.run(
        [sys.executable, "-m", "lambda_fn.cli", "upgrade", "--json", *NO_LINT],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    result = json.loads(done.stdout)
    assert result["status"] == "applied", done.stderr
    assert "a print() from a revision" in done.stderr and "raw bytes on fd 1" in done.stderr
    assert db.version() == ["n1"]


def test_lint_with_no_revisions_fails_with_upgrades_message(db: Database, tmp_path: Path) -> None:
    from lambda_fn.engine.gate.enforce import lint_offline
    from lambda_fn.settings import Settings

    ini = write_project(tmp_path, [])
    env = db.env(ALEMBIC_CONFIG=str(ini))
    upgrade = run(env)
    assert upgrade.status is Status.FAILED and "holds no revisions" in upgrade.message
    for lint in (run(env, "lint"), lint_offline(Settings.from_env(env), None)):
        assert lint.status is Status.FAILED
        assert lint.error is not None and upgrade.error is not None
        assert lint.error.message == upgrade.error.message


def test_check_refuses_what_upgrade_refuses(db: Database, tmp_path: Path) -> None:
    # a blocking finding the safety gate refuses on a deploy: check must not say "ready"
    ini = write_project(
        tmp_path,
        [
            Rev("c1", None, "op.create_table('c', sa.Column('id', sa.Integer, primary_key=True))"),
            Rev("c2", "c1", "op.add_column('c', sa.Column('x', sa.Integer, nullable=False))"),
        ],
    )
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env, "upgrade", "c1").status is Status.APPLIED
    upgrade, check = run(env), run(env, "check")
    assert upgrade.status is Status.FAILED and upgrade.error is not None
    assert check.status is Status.FAILED and check.error is not None
    assert check.error.kind is upgrade.error.kind
    assert db.version() == ["c1"]


CONCURRENTLY = [
    Rev(
        "i1",
        None,
        "op.create_table('big', sa.Column('id', sa.Integer, primary_key=True), sa.Column('v', sa.Text))",
    ),
    # written for a project whose own engine runs in AUTOCOMMIT: no autocommit_block()
    Rev("i2", "i1", "op.create_index('ix_big_v', 'big', ['v'], postgresql_concurrently=True)"),
]


def upgrade_past_the_gate(db: Database, ini: Path) -> Result:
    """The safety gate refuses CONCURRENTLY outside autocommit_block() whatever the project's isolation (its
    precision is issue 17): the documented escape, so the engine's own behaviour is what is tested."""
    request = Request(Command.UPGRADE, skip_lint="autocommit fixture", skip_lint_confirmed=True)
    return execute(
        request, Settings.from_env(db.env(ALEMBIC_CONFIG=str(ini))), deadline=Deadline(None)
    )


def index_valid(db: Database) -> list[list[object]]:
    return db.query("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('ix_big_v')")


def test_a_project_that_assumes_autocommit_fails_naming_autocommit_block(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(tmp_path, CONCURRENTLY)
    result = upgrade_past_the_gate(db, ini)
    assert result.status is Status.FAILED and result.error is not None
    assert "25001" in result.message and "autocommit_block()" in result.message
    assert "[alembic_hook] autocommit" in result.message
    assert db.version() == ["i1"] and index_valid(db) == []


def test_autocommit_detected_from_env_py(db: Database, tmp_path: Path) -> None:
    ini = write_project(tmp_path, CONCURRENTLY)
    env_py = tmp_path / "migrations" / "env.py"
    env_py.write_text(
        env_py.read_text()
        + '\nOWN_ENGINE_OPTIONS = dict(isolation_level="AUTOCOMMIT")  # its tool\n'
    )
    # a plain upgrade, gate on: from an empty database the index's table is created in the same range
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.status is Status.APPLIED, result.message
    assert db.version() == ["i2"] and index_valid(db) == [[True]]


def test_autocommit_declared_in_the_ini(db: Database, tmp_path: Path) -> None:
    ini = write_project(tmp_path, CONCURRENTLY)
    ini.write_text(ini.read_text() + "\n[alembic_hook]\nautocommit = true\n")
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.status is Status.APPLIED, result.message
    assert db.version() == ["i2"] and index_valid(db) == [[True]]
    # the ledger still holds each revision, and the hook's connection is back to transactions afterwards
    assert [r[0] for r in db.query("SELECT revision FROM alembic_hook_revisions ORDER BY id")] == [
        "i1",
        "i2",
    ]


def test_an_async_env_py_gets_the_same_reason_from_check_and_upgrade(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # older templates write `script_location = migrations`: from where a team runs it
    monkeypatch.chdir(tmp_path)
    alembic = str(Path(sys.executable).parent / "alembic")
    subprocess.run(
        [alembic, "init", "-t", "async", "migrations"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    write_revision(tmp_path, Rev("s1", None, "op.create_table('s', sa.Column('id', sa.Integer))"))
    ini = tmp_path / "alembic.ini"  # the template's own, unmodified
    env = db.env(ALEMBIC_CONFIG=str(ini))
    check, upgrade = run(env, "check"), run(env)
    assert check.error is not None and upgrade.error is not None
    assert check.error.kind is upgrade.error.kind and check.error.message == upgrade.error.message
    assert "env.py" in upgrade.message and "do_run_migrations(connection)" in upgrade.message
    assert db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [[0]]


def test_an_autocommit_project_passes_the_gate_on_a_live_table(
    db: Database, tmp_path: Path
) -> None:
    """The gate renders an AUTOCOMMIT project as it runs, without transactions: CONCURRENTLY outside
    autocommit_block() is not "inside a transaction" there, on a table the old code is using."""
    ini = write_project(tmp_path, CONCURRENTLY)
    ini.write_text(ini.read_text() + "\n[alembic_hook]\nautocommit = true\n")
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env, "upgrade", "i1").status is Status.APPLIED
    db.query("INSERT INTO big (v) SELECT g::text FROM generate_series(1, 50000) g")
    db.query("ANALYZE big")
    result = run(env)
    assert result.status is Status.APPLIED, result.message
    assert db.version() == ["i2"] and index_valid(db) == [[True]]

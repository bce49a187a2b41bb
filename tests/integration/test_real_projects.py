"""Projects the hook did not write: `alembic init` templates, unmodified, and the env.py shapes teams use.

Each either migrates the hook's database (read back: the version table and the tables) or fails before any
DDL with `env_py`, naming env.py. No case may succeed while the hook's database did not move.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.result import Result
from tests.support.database import Database, create_database
from tests.support.engine import run
from tests.support.projects import Rev, write_revision

ALEMBIC = str(Path(sys.executable).parent / "alembic")
REVISIONS = [
    Rev(
        "a1",
        None,
        "op.create_table('accounts', sa.Column('id', sa.Integer, primary_key=True))",
        "op.drop_table('accounts')",
    ),
    Rev(
        "a2",
        "a1",
        "op.add_column('accounts', sa.Column('name', sa.Text))",
        "op.drop_column('accounts', 'name')",
    ),
]


def alembic_init(root: Path, template: str) -> Path:
    """`alembic init -t TEMPLATE migrations` exactly as a team would run it, plus two revisions."""
    subprocess.run(
        [ALEMBIC, "init", "-t", template, "migrations"], cwd=root, check=True, capture_output=True
    )
    for rev in REVISIONS:
        write_revision(root, rev)
    return root / "alembic.ini"


def tables(db: Database) -> set[str]:
    return {
        str(r[0]) for r in db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }


def assert_migrated(db: Database, result: Result) -> None:
    assert result.status is Status.APPLIED, result.message
    assert [r.revision for r in result.applied] == ["a1", "a2"]
    assert db.version() == ["a2"]
    assert (
        db.query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts'")[
            0
        ][0]
        == 2
    )


def assert_refused_before_ddl(db: Database, result: Result, *fragments: str) -> None:
    assert result.status is Status.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.ENV_PY, result.message
    assert "env.py" in result.message and 'config.attributes.get("connection")' in result.message
    for fragment in fragments:
        assert fragment in result.message
    assert result.applied == []
    assert tables(db) == set()  # not even the version table


def test_the_unmodified_generic_template_migrates_the_hooks_database(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = alembic_init(tmp_path, "generic")
    # the template's placeholder URL
    assert "driver://user:pass@localhost/dbname" in ini.read_text()
    monkeypatch.chdir(tmp_path)
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert_migrated(db, result)


def test_the_templates_logging_config_does_not_silence_the_hooks_log(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template's env.py calls fileConfig(alembic.ini), which disables every logger that exists unless told
    otherwise: on a warm Lambda the hook would log nothing after its first full-path run."""
    import io
    import logging

    from lambda_fn.log import logger

    ini = alembic_init(tmp_path, "generic")
    assert "fileConfig(config.config_file_name)" in (tmp_path / "migrations" / "env.py").read_text()
    monkeypatch.chdir(tmp_path)
    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    assert_migrated(db, run(db.env(ALEMBIC_CONFIG=str(ini))))
    assert not logging.getLogger(logger.name).disabled
    applied = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    # logged while env.py ran, after fileConfig
    assert applied.count("Revision upgrade finished") == 2, applied


def test_an_ini_naming_sqlite_still_migrates_the_hooks_database(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = alembic_init(tmp_path, "generic")
    ini.write_text(
        ini.read_text().replace("driver://user:pass@localhost/dbname", "sqlite:///alembic.db")
    )
    monkeypatch.chdir(tmp_path)
    assert_migrated(db, run(db.env(ALEMBIC_CONFIG=str(ini))))
    assert not (tmp_path / "alembic.db").exists()


def test_the_async_template_is_refused_before_any_ddl_with_the_async_fix(
    db: Database, tmp_path: Path
) -> None:
    ini = alembic_init(tmp_path, "async")
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert_refused_before_ddl(db, result, "do_run_migrations(connection)")


def test_the_multidb_template_is_refused_before_any_ddl(db: Database, tmp_path: Path) -> None:
    ini = alembic_init(tmp_path, "multidb")
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.status is Status.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.ENV_PY and "env.py" in result.message
    assert tables(db) == set()


def write_env(root: Path, body: str) -> Path:
    """A project whose env.py is `body` (after the usual imports), with the two revisions."""
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(
        "import os\nfrom alembic import context\nfrom sqlalchemy import engine_from_config, pool, create_engine\n"
        "config = context.config\n" + textwrap.dedent(body)
    )
    ini = root / "alembic.ini"
    ini.write_text(
        "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///elsewhere.db\n"
    )
    for rev in REVISIONS:
        write_revision(root, rev)
    return ini


INI_URL_ONLY = """
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
"""

CONNECTION_ENGINE = """
    connectable = config.attributes["connection"].engine
    with connectable.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
"""

URL_FROM_ENVIRONMENT = """
    engine = create_engine(os.environ["APP_DATABASE_URL"], poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
"""


@pytest.mark.parametrize(
    "body", [INI_URL_ONLY, CONNECTION_ENGINE], ids=["ini-url-only", "connection.engine"]
)
def test_env_py_shapes_that_reach_the_hooks_database_migrate_it(
    db: Database, tmp_path: Path, body: str
) -> None:
    ini = write_env(tmp_path, body)
    assert_migrated(db, run(db.env(ALEMBIC_CONFIG=str(ini))))
    assert run(db.env(ALEMBIC_CONFIG=str(ini))).status is Status.UP_TO_DATE


def test_env_py_with_its_own_url_from_the_environment_is_refused_before_any_ddl(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = create_database(db.cluster)
    # stock pg8000 takes no sslmode parameter: the URL a team would put in its environment
    monkeypatch.setenv(
        "APP_DATABASE_URL", other.url.replace("postgresql://", "postgresql+pg8000://").split("?")[0]
    )
    ini = write_env(tmp_path, URL_FROM_ENVIRONMENT)
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert_refused_before_ddl(db, result, other.name)
    assert tables(other) == set()  # nor anywhere else
    assert "***" in result.message and "secret" not in result.message  # the password is masked


def test_a_custom_version_table_is_where_the_hook_reads_the_revision(
    db: Database, tmp_path: Path
) -> None:
    db.query("CREATE SCHEMA meta")
    ini = write_env(
        tmp_path,
        """
        connection = config.attributes["connection"]
        context.configure(connection=connection, version_table="schema_history", version_table_schema="meta")
        with context.begin_transaction():
            context.run_migrations()
    """,
    )
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env).status is Status.APPLIED
    assert db.query("SELECT version_num FROM meta.schema_history") == [["a2"]]
    assert db.version() == []  # no alembic_version was made on the side
    status = run(env, "status")
    assert status.status is Status.UP_TO_DATE and status.to_revision == "a2"
    check = run(env, "check")
    assert check.env is not None and check.env["version_table"] == "schema_history"
    assert check.env["version_table_schema"] == "meta"


def test_a_step_that_does_not_move_the_hooks_database_stops_the_run(
    db: Database, tmp_path: Path
) -> None:
    # a real env.py bug: it configures the hook's connection but runs the migrations only under a condition
    ini = write_env(
        tmp_path,
        """
        context.configure(connection=config.attributes["connection"])
        if os.environ.get("RUN_MIGRATIONS_HERE"):
            with context.begin_transaction():
                context.run_migrations()
    """,
    )
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.status is Status.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.MIGRATED_ELSEWHERE and result.error.revision == "a1"
    assert result.applied == [] and "did not move" in result.message
    assert db.version() == [] and "accounts" not in tables(db)


def test_a_stamp_that_does_not_move_the_hooks_database_fails(db: Database, tmp_path: Path) -> None:
    ini = write_env(
        tmp_path,
        """
        context.configure(connection=config.attributes["connection"])
        if os.environ.get("RUN_MIGRATIONS_HERE"):
            with context.begin_transaction():
                context.run_migrations()
    """,
    )
    result = run(db.env(ALEMBIC_CONFIG=str(ini)), "stamp", "a2", confirmed=True)
    assert result.error is not None and result.error.kind is ErrorKind.MIGRATED_ELSEWHERE
    assert db.version() == []


def test_env_py_that_raises_is_named_not_the_migration(db: Database, tmp_path: Path) -> None:
    ini = write_env(
        tmp_path,
        """
        raise RuntimeError("settings module missing")
    """,
    )
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert_refused_before_ddl(
        db, result, "settings module missing", "migrations are not the problem"
    )


def test_an_empty_script_directory_says_so(db: Database, tmp_path: Path) -> None:
    ini = write_env(tmp_path, INI_URL_ONLY)
    for f in (tmp_path / "migrations" / "versions").glob("*.py"):
        f.unlink()
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.error is not None and result.error.kind is ErrorKind.CONFIGURATION
    assert "holds no revisions" in result.message and "heads" not in result.message


def test_a_wrong_script_location_says_where_it_looked(db: Database, tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = migrashuns\n")
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.error is not None and result.error.kind is ErrorKind.CONFIGURATION
    assert "migrashuns" in result.message and "script_location" in result.message


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambda_fn.cli", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_passes_on_a_good_project_and_names_the_fix_on_a_broken_one(
    db: Database, tmp_path: Path
) -> None:
    (tmp_path / "good").mkdir()
    good = alembic_init(tmp_path / "good", "generic")
    done = cli("check", env=db.env(ALEMBIC_CONFIG=str(good)), cwd=good.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check: pending" in done.stdout and "version table alembic_version" in done.stdout
    assert tables(db) == set()  # check applies nothing

    (tmp_path / "bad").mkdir()
    bad = alembic_init(tmp_path / "bad", "async")
    done = cli("check", env=db.env(ALEMBIC_CONFIG=str(bad)), cwd=bad.parent)
    assert (
        done.returncode == 1
        and "[env_py]" in done.stdout
        and "do_run_migrations(connection)" in done.stdout
    )

    write_revision(tmp_path / "good", Rev("a3", "a2"))
    broken = tmp_path / "good" / "migrations" / "versions" / "a3.py"
    broken.write_text("import nothing_such_module\n" + broken.read_text())
    done = cli("check", env=db.env(ALEMBIC_CONFIG=str(good)), cwd=good.parent)
    assert done.returncode == 1 and "nothing_such_module" in done.stdout


def test_the_cli_shows_each_revision_as_it_goes_and_json_stays_one_object(
    db: Database, tmp_path: Path
) -> None:
    ini = alembic_init(tmp_path, "generic")
    done = cli("upgrade", "--progress", "--json", env=db.env(ALEMBIC_CONFIG=str(ini)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert lines[0].startswith("[1/2] upgrade a1") and lines[-1].startswith(
        "[2/2] upgrade a2 done in"
    )
    assert json.loads(done.stdout)["status"] == "applied"  # stdout is the one result object

"""The fast path ("already at head" without SQLAlchemy, Alembic, env.py or a revision file) gives exactly the
full path's answer: every scenario runs both ways and the results and log lines are compared."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_fn.contract import Status
from lambda_fn.engine import migrate
from lambda_fn.log import logger
from lambda_fn.result import Result
from tests.support.database import ALEMBIC_INI, Database, create_database
from tests.support.engine import run
from tests.support.paths import REPO
from tests.support.projects import Rev, chain, write_project

Prepare = Callable[[Database, Path], dict[str, str]]


def at_head(db: Database, tmp: Path) -> dict[str, str]:
    env = db.env()
    assert run(env).status is Status.APPLIED
    return env


def empty(db: Database, tmp: Path) -> dict[str, str]:
    return db.env()


def pending(db: Database, tmp: Path) -> dict[str, str]:
    env = db.env()
    assert run(env, revision="0003_intents").status is Status.APPLIED
    return env


def unknown_revision(db: Database, tmp: Path) -> dict[str, str]:
    env = at_head(db, tmp)
    db.query("UPDATE alembic_version SET version_num = 'from_newer_code'")
    return env


def two_heads(db: Database, tmp: Path) -> dict[str, str]:
    ini = write_project(tmp, [Rev("b0", None), Rev("b1", "b0"), Rev("b2", "b0")])
    env = db.env(ALEMBIC_CONFIG=str(ini))
    # upgrade refuses two heads
    assert run(env, "stamp", "heads", confirmed=True).status is Status.APPLIED
    return env


def custom_version_table(db: Database, tmp: Path) -> dict[str, str]:
    ini = write_project(tmp, chain(3))
    env_py = tmp / "migrations" / "env.py"
    env_py.write_text(
        env_py.read_text().replace(
            "context.configure(connection=connection,",
            "context.configure(connection=connection, version_table='history_of_schema',",
        )
    )
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env).status is Status.APPLIED
    assert db.query("SELECT version_num FROM history_of_schema") == [["r0002"]]
    return env


SCENARIOS: dict[str, tuple[Prepare, bool]] = {  # name -> (prepare, answered by the fast path)
    "at-head": (at_head, True),
    "empty": (empty, False),
    "pending": (pending, False),
    "unknown-revision": (unknown_revision, False),
    "two-heads": (two_heads, True),  # status answers at both heads; upgrade refuses the full way
    "custom-version-table": (custom_version_table, True),
}


def untimed(value: Any) -> Any:
    """The value with every timing (`*_ms`) zeroed: the two paths must agree on everything else."""
    if isinstance(value, dict):
        return {k: 0 if k.endswith("_ms") else untimed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def comparable(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = untimed(result.to_dict())
    return data


def log_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    for line in lines:
        for key in ("timestamp", "location"):
            line.pop(key, None)
    cleaned: list[dict[str, Any]] = untimed(lines)
    return cleaned


@pytest.fixture
def hook_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The hook's log lines: its handler writes to the stream it was made with (not capsys'), and an earlier
    in-process CLI run may have quietened it."""
    log = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", log)
    level = logger.log_level
    logger.setLevel(logging.INFO)
    yield log
    logger.setLevel(level)


@pytest.mark.parametrize(
    "command,revision", [("upgrade", None), ("upgrade", "head"), ("status", None)]
)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_both_paths_give_the_same_answer(
    *,
    scenario: str,
    command: str,
    revision: str | None,
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hook_log: io.StringIO,
) -> None:
    prepare, fast_answers = SCENARIOS[scenario]
    log = hook_log
    # the same state twice: an upgrade changes the one it runs on
    twin = create_database(db.cluster)
    env, twin_env = prepare(db, tmp_path), prepare(twin, tmp_path)
    full_calls: list[object] = []
    real_migrate = migrate.migrate
    monkeypatch.setattr(
        migrate, "migrate", lambda *a, **k: (full_calls.append(a), real_migrate(*a, **k))[1]
    )

    log.seek(0), log.truncate()  # what the preparation logged
    slow = run(env, command, revision, fast=False)
    slow_logs = log_lines(log.getvalue())
    log.seek(0), log.truncate()
    full_calls.clear()
    fast = run(twin_env, command, revision)
    fast_logs = log_lines(log.getvalue().replace(twin.name, db.name))

    assert json.dumps(comparable(fast)) == json.dumps(comparable(slow)).replace(db.name, twin.name)
    assert fast_logs == slow_logs
    assert [line["message"] for line in fast_logs].count(
        "Migration run finished"
    ) == 1  # the lines are read
    assert db.version() == twin.version()
    expect_fast = fast_answers and not (scenario == "two-heads" and command == "upgrade")
    assert (full_calls == []) is expect_fast


def test_the_fast_path_imports_neither_sqlalchemy_nor_alembic(db: Database) -> None:
    env = db.env()
    # full path once: heads and version table now known here
    assert run(env).status is Status.APPLIED
    code = (
        "import json, sys; from tests.support.engine import run; "
        f"r = run({env!r}); "
        "print(json.dumps([r.status.value, sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == ["up_to_date", []]


def test_an_edited_revision_file_is_never_answered_from_a_stale_manifest(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(tmp_path, chain(3))
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env).status is Status.APPLIED
    assert run(env).status is Status.UP_TO_DATE
    (tmp_path / "migrations" / "versions" / "r0003.py").write_text(
        (tmp_path / "migrations" / "versions" / "r0002.py")
        .read_text()
        .replace("revision = 'r0002'", "revision = 'r0003'")
        .replace("down_revision = 'r0001'", "down_revision = 'r0002'")
    )
    result = run(env)
    assert result.status is Status.APPLIED and [r.revision for r in result.applied] == ["r0003"]


def test_the_example_project_ships_the_version_table_in_its_manifest(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lambda_fn.cli.build_heads", ALEMBIC_INI],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["version_table"] == "alembic_version"

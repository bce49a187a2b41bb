"""The ledger, against real PostgreSQL: every run and revision on record, edits refused, the record readable."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.request import Command, Origin, Request
from lambda_fn.settings import Settings
from tests.support.database import Database
from tests.support.engine import run
from tests.support.paths import REPO
from tests.support.projects import Rev, chain, write_project, write_revision
from tools.localpg import SUPERUSER_PASSWORD

EXAMPLE = [
    "0001_threads",
    "0002_messages",
    "0003_intents",
    "0004_executions",
    "0005_recommendations",
]


def runs(db: Database) -> list[list[Any]]:
    return db.query(
        "SELECT id, command, caller, caller_reference::text, status, from_revision, to_revision, "
        "error_kind, error_revision FROM alembic_hook_runs ORDER BY id"
    )


def revisions(db: Database) -> list[list[Any]]:
    return db.query(
        "SELECT run_id, revision, direction, sha256, verified FROM alembic_hook_revisions ORDER BY id"
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def execute(
    env: dict[str, str],
    command: Command,
    revision: str | None = None,
    *,
    origin: Origin | None = None,
    confirmed: bool = False,
) -> Any:
    from lambda_fn.engine.execute import execute as engine_execute

    return engine_execute(
        Request(command, revision, confirmed, origin=origin or Origin("cli", {"user": "u"})),
        Settings.from_env(env),
    )


def test_applied_revisions_are_on_record_with_their_checksums(db: Database) -> None:
    result = execute(
        db.env(), Command.UPGRADE, origin=Origin("cli", {"user": "ana", "host": "laptop"})
    )
    assert result.status is Status.APPLIED and result.run_id == 1
    [[run_id, command, caller, reference, status, frm, to, kind, _]] = runs(db)
    assert (run_id, command, caller, status, frm, to, kind) == (
        1,
        "upgrade",
        "cli",
        "applied",
        None,
        "0005_recommendations",
        None,
    )
    assert '"user": "ana"' in reference and '"host": "laptop"' in reference
    rows = revisions(db)
    # the CONCURRENTLY one once
    assert [r[1] for r in rows] == EXAMPLE and {r[2] for r in rows} == {"upgrade"}
    for _, rev, _, checksum, verified in rows:
        [path] = (REPO / "alembic" / "versions").glob(f"{rev}.py")
        assert checksum == sha(path) and verified is True
    # at head: one more run row, no revision row
    again = execute(db.env(), Command.UPGRADE)
    assert again.status is Status.UP_TO_DATE and again.run_id == 2
    assert runs(db)[-1][4] == "up_to_date" and len(revisions(db)) == 5


def test_a_revision_that_fails_leaves_no_revision_row_and_a_failed_run(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(
        tmp_path,
        [
            Rev("f1", None, "op.execute('CREATE TABLE t (id int)')"),
            Rev("f2", "f1", "op.execute('SELECT no_such_column FROM t')"),
        ],
    )
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.error is not None and result.error.kind is ErrorKind.MIGRATION_FAILED
    [[_, _, _, _, status, _, to, kind, failed_at]] = runs(db)
    assert (status, to, kind, failed_at) == ("failed", "f1", "migration_failed", "f2")
    assert [r[1] for r in revisions(db)] == ["f1"]


def test_an_edited_revision_is_refused_before_any_ddl_until_accepted(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(tmp_path, chain(2))
    env = db.env(ALEMBIC_CONFIG=str(ini))
    assert run(env).status is Status.APPLIED
    edited = tmp_path / "migrations" / "versions" / "r0000.py"
    old = sha(edited)
    edited.write_text(edited.read_text() + "\n# edited after it ran\n")
    write_revision(tmp_path, Rev("r0002", "r0001", "op.execute('CREATE TABLE new_one (id int)')"))

    refused = run(env)
    assert refused.error is not None and refused.error.kind is ErrorKind.REVISION_CHANGED
    assert (
        refused.error.revision == "r0000"
        and old in refused.message
        and sha(edited) in refused.message
    )
    assert db.version() == ["r0001"] and db.query("SELECT to_regclass('new_one')") == [[None]]
    last = runs(db)[-1]
    assert (last[4], last[7], last[8]) == ("failed", "revision_changed", "r0000")

    unconfirmed = run(env, "accept", "r0000")
    assert (
        unconfirmed.error is not None and unconfirmed.error.kind is ErrorKind.CONFIRMATION_REQUIRED
    )

    accepted = run(env, "accept", "r0000", confirmed=True)
    assert accepted.status is Status.APPLIED, accepted.message
    assert revisions(db)[-1][1:4] == ["r0000", "accepted", sha(edited)]
    assert run(env).status is Status.APPLIED and db.version() == ["r0002"]


def test_a_database_migrated_before_the_ledger_is_adopted_as_baseline(db: Database) -> None:
    url = db.cluster.url(db.name, sslmode="disable").replace(
        "postgresql://", "postgresql+pg8000_hook://"
    )
    subprocess.run(
        [
            str(Path(sys.executable).parent / "alembic"),
            "-c",
            str(REPO / "alembic.ini"),
            "upgrade",
            "0003_intents",
        ],
        env={**os.environ, "ALEMBIC_DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    result = run(db.env())
    assert result.status is Status.APPLIED and [r.revision for r in result.applied] == EXAMPLE[3:]
    rows = revisions(db)
    assert [(r[1], r[2], r[4]) for r in rows[:3]] == [
        (rev, "baseline", False) for rev in EXAMPLE[:3]
    ]
    assert [(r[1], r[2], r[4]) for r in rows[3:]] == [(rev, "upgrade", True) for rev in EXAMPLE[3:]]


def test_the_ledger_survives_downgrade_and_stamp_and_never_holds_a_password(db: Database) -> None:
    env = db.env()
    assert run(env).status is Status.APPLIED
    assert run(env, "downgrade", "0003_intents", confirmed=True).status is Status.APPLIED
    assert run(env, "stamp", "0005_recommendations", confirmed=True).status is Status.APPLIED
    directions = [(r[1], r[2]) for r in revisions(db)][5:]
    assert directions == [
        ("0005_recommendations", "downgrade"),
        ("0004_executions", "downgrade"),
        ("0005_recommendations", "stamp"),
    ]
    assert [r[1] for r in runs(db)] == ["upgrade", "downgrade", "stamp"]
    dump = str(db.query("SELECT * FROM alembic_hook_runs")) + str(
        db.query("SELECT * FROM alembic_hook_revisions")
    )
    assert SUPERUSER_PASSWORD not in dump and "password" not in dump


def test_log_and_history_read_the_record(db: Database) -> None:
    env = db.env()
    assert run(env).status is Status.APPLIED
    log = execute(env, Command.LOG)
    assert log.status is Status.OK and log.log is not None and len(log.log) == 1
    assert [r["revision"] for r in log.log[0]["revisions"]] == EXAMPLE
    one = execute(env, Command.LOG, "0002_messages")
    assert one.log is not None and [r["id"] for r in one.log] == [1]
    history = run(env, "history")
    assert history.history is not None
    marks = {h["revision"]: h["ledger"] for h in history.history}
    assert all(marks[rev] is not None and marks[rev]["run_id"] == 1 for rev in EXAMPLE)


def test_a_runner_killed_mid_revision_is_closed_as_abandoned_by_the_next(
    db: Database, tmp_path: Path
) -> None:
    ini = write_project(
        tmp_path,
        [
            Rev("k1", None, "op.execute('CREATE TABLE k (id int)')"),
            Rev(
                "k2",
                "k1",
                "import os, time\nop.execute('INSERT INTO k VALUES (1)')\n"
                "if not op.get_context().as_sql:  # not when rendered offline\n"
                "    time.sleep(float(os.environ.get('HOOK_TEST_PAUSE', '0')))",
            ),
        ],
    )
    env = {
        **os.environ,
        **db.env(ALEMBIC_CONFIG=str(ini), DB_APPLICATION_NAME="killed-runner"),
        "HOOK_TEST_PAUSE": "60",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambda_fn.cli", "upgrade"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not db.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'killed-runner' "
            "AND query LIKE 'INSERT INTO k%'"
        )[0][0]:
            assert time.monotonic() < deadline, "the runner never reached k2"
            time.sleep(0.1)  # poll interval of a bounded wait
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    result = run(db.env(ALEMBIC_CONFIG=str(ini)))
    assert result.status is Status.APPLIED and [r.revision for r in result.applied] == ["k2"]
    first, second = runs(db)
    assert first[4] == "abandoned" and second[4] == "applied"
    message = db.query("SELECT error_message FROM alembic_hook_runs WHERE id = 1")[0][0]
    assert "k1" in str(message) and "closed by run 2" in str(message)
    assert [r[1] for r in revisions(db)] == ["k1", "k2"]  # k2 once, by the second run
    assert db.query("SELECT count(*) FROM k") == [[1]]


def _upgrade(url: str, out: Any) -> None:
    out.put(run({"DATABASE_URL": url, "ALEMBIC_CONFIG": str(REPO / "alembic.ini")}).status.value)


def test_ten_concurrent_runs_one_run_row_each_revisions_once(db: Database) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_upgrade, args=(db.url, out)) for _ in range(10)]
    for p in procs:
        p.start()
    statuses = sorted(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert statuses.count("applied") == 1 and statuses.count("up_to_date") == 9
    assert len(runs(db)) == 10
    assert [r[1] for r in revisions(db)] == EXAMPLE


def test_an_edited_baseline_revision_is_refused_from_the_adoption_on(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command
    from alembic.config import Config

    ini = write_project(tmp_path, chain(2))
    url = db.cluster.url(db.name, sslmode="disable").replace(
        "postgresql://", "postgresql+pg8000_hook://"
    )
    monkeypatch.setenv("ALEMBIC_DATABASE_URL", url)
    plain = Config(str(ini))
    plain.attributes["configure_logging"] = False
    command.upgrade(plain, "head")  # plain `alembic upgrade head`, before the hook ever ran here
    monkeypatch.delenv("ALEMBIC_DATABASE_URL")
    env = db.env(ALEMBIC_CONFIG=str(ini))
    # nothing pending: the first run with the ledger adopts r0000, r0001 as baseline
    adopted = run(env)
    assert adopted.status is Status.UP_TO_DATE, adopted.message
    assert [(r[1], r[2]) for r in revisions(db)] == [("r0000", "baseline"), ("r0001", "baseline")]
    edited = tmp_path / "migrations" / "versions" / "r0000.py"
    old = sha(edited)
    edited.write_text(edited.read_text() + "\n# edited after adoption\n")
    for attempt in ("at head", "with a pending revision"):
        if attempt == "with a pending revision":
            write_revision(
                tmp_path, Rev("r0002", "r0001", "op.execute('CREATE TABLE new_one (id int)')")
            )
        refused = run(env, fast=False)  # the at-head fast path (issue 18) does not read the ledger
        assert refused.error is not None and refused.error.kind is ErrorKind.REVISION_CHANGED, (
            attempt
        )
        assert old in refused.message and sha(edited) in refused.message, attempt
        assert db.version() == ["r0001"] and db.query("SELECT to_regclass('new_one')") == [[None]]

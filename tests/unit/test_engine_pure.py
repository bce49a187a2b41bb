"""The engine's pure logic, without a database: the ledger's integrity rule and what it writes (over a
recording `execute`), the manifest's fingerprint and lookups, where `locate` finds a project from its ini
alone, and why a time-budgeted run stops before a revision. The SQL itself is tested against PostgreSQL
(tests/integration/test_ledger.py, test_heads_index.py, test_partial_runs.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lambda_fn.contract import ErrorKind
from lambda_fn.engine import apply, cache, heads_manifest, locate
from lambda_fn.engine.ledger import Ledger, Names
from lambda_fn.errors import HookError
from lambda_fn.request import Origin


class Recorder:
    """An `execute` that answers the ledger's SELECTs with given rows and keeps every statement."""

    def __init__(self, rows: list[Any] | None = None) -> None:
        self.rows = rows or []
        self.statements: list[tuple[str, dict[str, Any]]] = []
        self.commits = 0

    def __call__(self, sql: str, params: dict[str, Any]) -> list[Any]:
        self.statements.append((sql, params))
        return self.rows

    def commit(self) -> None:
        self.commits += 1


def ledger(rows: list[Any] | None = None, names: Names | None = None) -> tuple[Ledger, Recorder]:
    rec = Recorder(rows)
    return Ledger(rec, rec.commit, names or Names(None, "alembic_hook_")), rec


# -- the ledger ------------------------------------------------------------------------------------------------


def test_an_applied_revision_whose_file_changed_is_refused_with_what_to_do() -> None:
    book, _ = ledger([("b1", "upgrade", "a" * 64), ("b2", "upgrade", "b" * 64)])
    with pytest.raises(HookError) as raised:
        book.check_integrity({"b1", "b2"}, {"b1": "a" * 64, "b2": "c" * 64})
    error = raised.value
    assert (error.kind, error.revision) == (ErrorKind.REVISION_CHANGED, "b2")
    assert f"recorded sha256 {'b' * 64}, the deployed file has {'c' * 64}" in error.message
    assert "`alembic-hook accept b2 --yes`" in error.message and "Nothing was run." in error.message


def test_several_edited_revisions_are_all_named() -> None:
    book, _ = ledger(
        [("b1", "upgrade", "a" * 64), ("b2", "upgrade", "b" * 64), ("b3", "upgrade", "d" * 64)]
    )
    with pytest.raises(HookError) as raised:
        book.check_integrity({"b1", "b2", "b3"}, {"b1": "x" * 64, "b2": "b" * 64, "b3": "y" * 64})
    assert raised.value.message.startswith("Revision b1 (and b3) was edited after it ran")


@pytest.mark.parametrize(
    ("rows", "applied"),
    [
        # downgraded last: its file may change before it runs again
        (
            [("b1", "downgrade", "a" * 64)],
            {"b1"},
        ),
        ([("b1", "upgrade", "a" * 64)], set()),  # not applied to this database any more
        ([("b1", "baseline", None)], {"b1"}),  # adopted without a checksum: nothing to compare
    ],
    ids=["downgraded", "not-applied", "no-checksum"],
)
def test_what_cannot_have_been_edited_after_it_ran_is_not_refused(
    rows: list[Any], applied: set[str]
) -> None:
    book, _ = ledger(rows)
    book.check_integrity(applied, {"b1": "z" * 64})


def test_a_run_that_is_over_when_it_starts_is_closed_at_once() -> None:
    book, rec = ledger([(41,)])
    assert (
        book.start(
            "upgrade", Origin("codepipeline", {"job": "j"}), "code", "b3", status="up_to_date"
        )
        == 41
    )
    sql, params = rec.statements[-1]
    assert (
        "now()) RETURNING id" in sql and params["status"] == "up_to_date" and params["frm"] == "b3"
    )
    assert (
        json.loads(params["reference"]) == {"job": "j"} and book.run_id == 41 and rec.commits == 1
    )

    book.start("upgrade", Origin(), "code", None)
    assert "NULL) RETURNING id" in rec.statements[-1][0]  # running: finished_at stays empty


def test_the_run_is_closed_with_the_error_cut_to_the_column() -> None:
    book, rec = ledger([(7,)])
    book.start("upgrade", Origin(), "code", None)
    book.finish("failed", "b1", HookError(ErrorKind.MIGRATION_FAILED, "x" * 5000, "b2"))
    params = rec.statements[-1][1]
    assert (params["status"], params["to"], params["kind"], params["rev"], params["id"]) == (
        "failed",
        "b1",
        "migration_failed",
        "b2",
        7,
    )
    assert len(params["msg"]) == 2000


def test_the_ledger_tables_are_quoted_and_may_live_in_a_schema() -> None:
    assert Names(None, "alembic_hook_").runs == '"alembic_hook_runs"'
    assert Names("ops", "hook_").revisions == '"ops"."hook_revisions"'


# -- the manifest ----------------------------------------------------------------------------------------------


def versions(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "versions"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_fingerprint_follows_the_revision_files_bytes_and_names(tmp_path: Path) -> None:
    root = versions(tmp_path, {"a.py": "revision = 'a'\n", "b.py": "revision = 'b'\n"})
    first = heads_manifest.fingerprint([root])
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "a.cpython-312.pyc").write_bytes(b"\0")
    (root / "README.txt").write_text("not a revision")
    assert heads_manifest.fingerprint([root]) == first  # only the revision files count

    (root / "b.py").write_text("revision = 'b'  # edited\n")
    edited = heads_manifest.fingerprint([root])
    assert edited != first
    (root / "b.py").rename(root / "c.py")
    assert heads_manifest.fingerprint([root]) not in (first, edited)


def test_the_shipped_manifest_answers_only_for_the_files_it_was_built_from(tmp_path: Path) -> None:
    script_dir = tmp_path / "migrations"
    script_dir.mkdir()
    (script_dir / heads_manifest.HEADS_MANIFEST).write_text(
        json.dumps({"fingerprint": "f1", "heads": ["b3"]})
    )
    assert heads_manifest.lookup(script_dir, "f1") == ("b3",)
    # the files changed since the build: ask Alembic
    assert heads_manifest.lookup(script_dir, "f2") is None
    assert heads_manifest.shipped_fingerprint(script_dir) == "f1"


def test_a_cache_entry_others_could_have_written_is_never_read(tmp_path: Path) -> None:
    entry = tmp_path / "heads.json"
    entry.write_text(json.dumps({"fingerprint": "f", "heads": ["b3"]}))
    tmp_path.chmod(0o700)
    entry.chmod(0o600)
    assert cache.read_json(entry) == {"fingerprint": "f", "heads": ["b3"]}
    entry.chmod(0o666)
    assert cache.read_json(entry) is None
    entry.chmod(0o600)
    tmp_path.chmod(0o777)
    assert cache.read_json(entry) is None
    tmp_path.chmod(0o700)


def test_a_version_table_in_a_schema_is_qualified() -> None:
    assert heads_manifest.VersionTable().qualified() == "alembic_version"
    assert heads_manifest.VersionTable("versions", "meta").qualified() == "meta.versions"


# -- locate: the project from its ini, without Alembic ---------------------------------------------------------


def project(tmp_path: Path, alembic_section: str, *, env_py: bool = True) -> Path:
    (tmp_path / "migrations").mkdir(exist_ok=True)
    if env_py:
        (tmp_path / "migrations" / "env.py").write_text("")
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\n{alembic_section}\n")
    return ini


def test_the_script_directory_is_found_relative_to_the_ini(tmp_path: Path) -> None:
    ini = project(tmp_path, "script_location = %(here)s/migrations")
    found = locate.locate(str(ini), None)
    assert found is not None and found.script_dir == tmp_path / "migrations" and found.ini == ini
    assert found.version_dirs == [tmp_path / "migrations" / "versions"]


def test_an_explicit_script_location_wins_over_the_ini(tmp_path: Path) -> None:
    ini = project(tmp_path, "script_location = elsewhere")
    found = locate.locate(str(ini), str(tmp_path / "migrations"))
    assert found is not None and found.script_dir == tmp_path / "migrations"


@pytest.mark.parametrize(
    ("section", "env_py"),
    [
        # several dirs
        (
            "script_location = %(here)s/migrations\nversion_locations = %(here)s/a %(here)s/b",
            True,
        ),
        ("script_location = mypackage:migrations", True),  # a package resource
        ("script_location = %(here)s/migrations", False),  # no env.py there
        ("", True),  # no script_location
    ],
    ids=["version-locations", "package-resource", "no-env-py", "no-location"],
)
def test_what_only_alembic_can_resolve_goes_the_full_way(
    tmp_path: Path, section: str, env_py: bool
) -> None:
    assert locate.locate(str(project(tmp_path, section, env_py=env_py)), None) is None


def test_a_missing_ini_goes_the_full_way(tmp_path: Path) -> None:
    """The full path gives the clear error about the missing file; the fast path only steps aside."""
    assert locate.locate(str(tmp_path / "missing.ini"), None) is None


def test_a_project_without_a_version_table_on_record_is_not_known(tmp_path: Path) -> None:
    ini = project(tmp_path, "script_location = %(here)s/migrations")
    found = locate.locate(str(ini), None)
    assert found is not None
    versions(tmp_path / "migrations", {"b1.py": "revision = 'b1'\n"})
    shipped = {"fingerprint": found.fingerprint, "heads": ["b1"]}
    (found.script_dir / heads_manifest.HEADS_MANIFEST).write_text(json.dumps(shipped))
    assert found.known() is None  # heads alone do not answer: the version table must be known too


# -- a time-budgeted run: why it stops before a revision --------------------------------------------------------


def stop_context(table_lock_timeout: float = 5.0) -> Any:
    return SimpleNamespace(
        target=SimpleNamespace(settings=SimpleNamespace(table_lock_timeout=table_lock_timeout)),
        result=SimpleNamespace(long_revision=None),
    )


def script(rev: str, *, long: bool = False) -> Any:
    module = SimpleNamespace(alembic_hook_long=True) if long else SimpleNamespace()
    return SimpleNamespace(revision=rev, module=module)


def test_a_revision_declared_long_stops_the_iteration_before_it() -> None:
    ctx = stop_context()
    assert apply._stop_before(ctx, script("b3", long=True), left=600, done=2) == (
        "stopped before b3, declared long (alembic_hook_long = True): it runs in the long lane. "
        "2 revision(s) applied before it."
    )
    assert ctx.result.long_revision == "b3"


def test_a_spent_budget_stops_before_the_next_revision_and_only_then() -> None:
    ctx = stop_context(table_lock_timeout=5.0)
    assert apply._stop_before(ctx, script("b3"), left=4.9, done=1) == (
        "stopped before b3: the invocation's time budget is spent (1 revision(s) applied); call again"
    )
    assert apply._stop_before(ctx, script("b3"), left=60, done=1) is None
    assert ctx.result.long_revision is None


def test_a_failed_revision_says_what_happened_to_its_transaction() -> None:
    error = apply._explain(HookError(ErrorKind.MIGRATION_FAILED, "division by zero", "b2"), "b2")
    assert (error.kind, error.revision) == (ErrorKind.MIGRATION_FAILED, "b2")
    assert error.message == (
        "Revision b2 failed: division by zero Its transaction was rolled back; the database "
        "stays at the revision before it. Fix the migration and run again: it continues from "
        "there."
    )
    assert apply._explain(HookError(ErrorKind.TLS, "bad certificate"), "b2").message == (
        "Revision b2 failed: bad certificate"
    )

"""What each command decides and answers, without PostgreSQL: the handlers of `engine/commands.py` over a
fake project, ledger and lock (pure-logic fakes: what the database would say is given, what the command
does with it is checked), and the fast path (`at_head.decide`) against the full path for the same situation.

The real-database tests (tests/integration/) keep what needs a database: the SQL, the lock, the ledger's rows
read back, env.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.engine import at_head, commands
from lambda_fn.engine.answer import Found, NoOp, Outcome, give, situation
from lambda_fn.engine.context import Context
from lambda_fn.engine.heads_manifest import VersionTable
from lambda_fn.engine.ledger import Names
from lambda_fn.errors import HookError
from lambda_fn.request import Command, Origin, Request
from lambda_fn.result import Result

CHAIN = ("b1", "b2", "b3")  # one linear history: b1 -> b2 -> b3 (head)


@dataclass
class Script:
    revision: str
    path: str


@dataclass
class Plan:
    connection: str = "the hook's connection"
    version_table: str = "alembic_version"
    version_table_schema: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "version_table": self.version_table,
            "version_table_schema": self.version_table_schema,
        }

    @property
    def versions(self) -> VersionTable:
        return VersionTable(self.version_table, self.version_table_schema)


@dataclass
class Project:
    """The part of AlembicProject the handlers use, over CHAIN; `at` is where the database is."""

    files: Path
    at: tuple[str, ...] = ()
    plan: Plan | None = field(default_factory=Plan)
    fingerprint: str = "f" * 64
    steps: list[str] = field(default_factory=list)  # what upgrade_steps / downgrade_steps plan

    def __post_init__(self) -> None:
        for rev in CHAIN:
            (self.files / f"{rev}.py").write_text(f"revision = {rev!r}\n")

    @property
    def script(self) -> Project:
        return self

    def iterate_revisions(self, upper: tuple[str, ...], lower: str) -> list[Script]:
        top = max(CHAIN.index(r) for r in upper)
        return [self.get(r) for r in reversed(CHAIN[: top + 1])]

    def get(self, rev: str) -> Script:
        if rev not in CHAIN:
            raise HookError(ErrorKind.BAD_REVISION, f"no revision {rev}", rev)
        return Script(rev, str(self.files / f"{rev}.py"))

    def current(self, conn: object) -> tuple[str, ...]:
        return self.at

    def heads(self) -> tuple[str, ...]:
        return (CHAIN[-1],)

    def knows(self, rev: str) -> bool:
        return rev in CHAIN

    def check_known(self, current: tuple[str, ...]) -> None:
        if unknown := [r for r in current if r not in CHAIN]:
            raise HookError(ErrorKind.UNKNOWN_DATABASE_REVISION, f"unknown {unknown[0]}")

    def resolve_target(self, target: str) -> None:
        if target not in ("head", "heads"):
            self.get(target)

    def pending(self, current: tuple[str, ...], target: str = "heads") -> list[Script]:
        start = CHAIN.index(current[0]) + 1 if current else 0
        end = len(CHAIN) if target in ("head", "heads") else CHAIN.index(target) + 1
        return [self.get(r) for r in CHAIN[start:end]]

    def upgrade_steps(self, target: str, current: tuple[str, ...]) -> list[str]:
        return self.steps

    downgrade_steps = upgrade_steps

    def history(self, current: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"revision": r} for r in reversed(CHAIN)]

    def import_all(self) -> int:
        return len(CHAIN)

    def require_single_head(self) -> None:
        pass

    def require_revisions(self) -> None:
        pass


@dataclass
class Ledger:
    """What the ledger's SQL would answer: whether it exists, the checksums it recorded; what the command
    wrote to it is kept in `runs` (start: status, from; finish: status, to, error kind)."""

    exists: bool = True
    sha: dict[str, str] = field(default_factory=dict)  # revision -> sha256 on record
    runs: list[tuple[str, ...]] = field(default_factory=list)
    names: Names = field(default_factory=lambda: Names(None, "alembic_hook_"))

    def execute(self, sql: str, params: dict[str, Any]) -> list[Any]:
        assert "to_regclass" in sql, sql  # record.exists: the only SQL a handler runs itself
        return [[self.exists]]

    def commit(self) -> None:
        pass

    def ensure(self) -> bool:
        created, self.exists = not self.exists, True
        return created

    def start(
        self, command: str, origin: Origin, code: str, frm: str | None, status: str = "running"
    ) -> int:
        self.runs.append(("start", command, status, frm or ""))
        return len(self.runs)

    def recorded(self) -> dict[str, tuple[str, str | None]]:
        return {rev: ("upgrade", sha) for rev, sha in self.sha.items()}

    def adopt(self, applied: list[tuple[str, str]]) -> None:
        self.runs.append(("adopt", *(rev for rev, _ in applied)))
        self.sha.update(applied)

    def close_abandoned(self, current: str | None = None) -> list[int]:
        return []

    def check_integrity(self, applied: set[str], sha_of: dict[str, str]) -> None:
        from lambda_fn.engine.ledger import Ledger as RealLedger

        RealLedger.check_integrity(self, applied, sha_of)  # the real rule on the fake's rows

    def finish(self, status: str, to: str | None, error: HookError | None = None) -> None:
        self.runs.append(("finish", status, to or "", error.kind.value if error else ""))

    def record_step(self, revision: str, direction: str, sha: str | None) -> None:
        self.runs.append(("step", revision, direction))

    def log(self, limit: int, revision: str | None) -> list[dict[str, Any]]:
        return [{"id": 2}, {"id": 1}][:limit]

    def applied_by(self) -> dict[str, dict[str, Any]]:
        return {"b1": {"run_id": 1}}


@dataclass
class Held:
    waited: float = 0.25

    def verify(self) -> None:
        pass


@dataclass
class Target:
    locks: int = 0

    @contextmanager
    def migration_lock(self, creds: object) -> Iterator[Held]:
        self.locks += 1
        yield Held()


@dataclass
class Database:
    conn: object = None
    creds: object = None
    on_version_apply: object = None


def context(
    tmp_path: Path,
    command: Command,
    revision: str | None = None,
    *,
    at: tuple[str, ...] = (),
    ledger: Ledger | None = None,
    **project: Any,
) -> Context:
    request = Request(command, revision, confirmed=True)
    result = Result(
        command=command.value, status=Status.FAILED, target=revision, database="db:5432/app"
    )
    proj = Project(tmp_path, at, **project)
    ctx = Context(request, result, proj, Target(), Database(), ledger or Ledger())
    known = all(proj.knows(r) for r in at)
    situation(
        result,
        command,
        at,
        proj.heads(),
        lambda: [s.revision for s in proj.pending(at)] if known else [],
    )
    return ctx


def run(ctx: Context, handler: commands.Handler | None = None) -> Outcome:
    handler = handler or commands.HANDLERS[ctx.request.command]
    outcome = handler(ctx, ctx.project.current(None))
    give(ctx.result, outcome)
    return outcome


def answered(ctx: Context) -> tuple[Status, str]:
    return ctx.result.status, ctx.result.message


# -- read-only commands: what they found -----------------------------------------------------------------------


def test_status_at_head_is_up_to_date(tmp_path: Path) -> None:
    ctx = context(tmp_path, Command.STATUS, at=("b3",))
    assert run(ctx) == Found("b3", ("b3",), ())
    assert answered(ctx) == (Status.UP_TO_DATE, "at b3; up to date with head b3")


def test_current_on_an_empty_database_lists_what_waits_without_judging_it(tmp_path: Path) -> None:
    """`current` is status without the safety gate: the findings are not judged (None, not empty)."""
    ctx = context(tmp_path, Command.CURRENT)
    assert run(ctx) == Found(None, ("b3",), CHAIN, None)
    assert answered(ctx) == (
        Status.PENDING,
        "at an empty database (no revision); 3 pending: b1, b2, b3",
    )
    assert ctx.result.findings is None


def test_log_before_the_ledger_exists(tmp_path: Path) -> None:
    ctx = context(tmp_path, Command.LOG, ledger=Ledger(exists=False))
    run(ctx)
    assert (ctx.result.log, *answered(ctx)) == (
        [],
        Status.OK,
        "no ledger yet: the hook has not changed this database",
    )


def test_log_of_one_revision(tmp_path: Path) -> None:
    ctx = context(tmp_path, Command.LOG, "b1", at=("b3",))
    run(ctx)
    assert (len(ctx.result.log or []), *answered(ctx)) == (
        2,
        Status.OK,
        "2 run(s), newest first, touching b1",
    )


def test_history_carries_the_ledgers_runs(tmp_path: Path) -> None:
    ctx = context(tmp_path, Command.HISTORY, at=("b1",))
    run(ctx)
    assert answered(ctx) == (Status.OK, "3 revisions")
    assert [(h["revision"], h["ledger"]) for h in ctx.result.history or []] == [
        ("b3", None),
        ("b2", None),
        ("b1", {"run_id": 1}),
    ]


def test_sql_with_nothing_to_apply_is_empty(tmp_path: Path) -> None:
    ctx = context(tmp_path, Command.SQL, "b2", at=("b2",))
    run(ctx)
    assert (ctx.result.sql, ctx.result.target, ctx.result.pending) == ("", "b2", [])
    assert answered(ctx) == (Status.UP_TO_DATE, "nothing to apply: the database is at or past b2")


def test_check_says_how_env_py_reaches_the_database_and_where_its_version_table_is(
    tmp_path: Path,
) -> None:
    ctx = context(
        tmp_path,
        Command.CHECK,
        at=("b3",),
        ledger=Ledger(exists=False),
        plan=Plan("url", "versions", "meta"),
    )
    run(ctx)
    assert answered(ctx) == (
        Status.UP_TO_DATE,
        "ready: env.py migrates db:5432/app through url; version table "
        "meta.versions; 3 revision(s) import cleanly; head b3; 0 pending",
    )
    assert ctx.result.env == {
        "connection": "url",
        "version_table": "versions",
        "version_table_schema": "meta",
    }


# -- changing commands: what they decide to do ---------------------------------------------------------------


def test_an_upgrade_at_head_is_on_record_without_the_lock(tmp_path: Path) -> None:
    ledger = Ledger()
    ctx = context(tmp_path, Command.UPGRADE, at=("b3",), ledger=ledger)
    assert run(ctx) == NoOp("b3", "head")
    assert answered(ctx) == (Status.UP_TO_DATE, "already at b3; nothing to apply for head")
    assert ctx.target.locks == 0
    assert ledger.runs == [("start", "upgrade", "up_to_date", "b3")]  # one INSERT, closed at once
    assert ctx.result.run_id == 1


def test_the_first_upgrade_at_head_creates_the_ledger_under_the_lock(tmp_path: Path) -> None:
    """Migrated before the hook: the ledger is created and adopts what is applied, and the run row closes
    with the answer's status."""
    ledger = Ledger(exists=False)
    ctx = context(tmp_path, Command.UPGRADE, at=("b3",), ledger=ledger)
    run(ctx)
    assert ctx.target.locks == 1
    assert ledger.runs == [
        ("start", "upgrade", "running", "b3"),
        ("adopt", "b1", "b2", "b3"),
        ("finish", "up_to_date", "b3", ""),
    ]
    assert answered(ctx) == (Status.UP_TO_DATE, "already at b3; nothing to apply for head")


def test_an_edited_applied_revision_is_refused_at_head_too(tmp_path: Path) -> None:
    ledger = Ledger(sha={"b1": "0" * 64})
    ctx = context(tmp_path, Command.UPGRADE, at=("b3",), ledger=ledger)
    with pytest.raises(HookError) as raised:
        run(ctx)
    assert raised.value.kind is ErrorKind.REVISION_CHANGED and raised.value.revision == "b1"
    assert ledger.runs == [
        ("start", "upgrade", "running", "b3"),
        ("finish", "failed", "b3", "revision_changed"),
    ]


def test_a_bad_target_is_refused_before_the_lock(tmp_path: Path) -> None:
    ctx = context(tmp_path, Command.UPGRADE, "nope", at=("b1",))
    with pytest.raises(HookError) as raised:
        run(ctx)
    assert raised.value.kind is ErrorKind.BAD_REVISION
    assert ctx.target.locks == 0
    assert ctx.result.target == "nope"


def test_a_downgrade_with_no_step_answers_under_the_lock_from_the_revision_read_there(
    tmp_path: Path,
) -> None:
    """Another run may have moved the database while this one waited: the plan and the answer use the
    revision read under the lock, and the run row closes as up to date."""
    ledger = Ledger()
    ctx = context(tmp_path, Command.DOWNGRADE, "b1", at=("b2",), ledger=ledger)
    ctx.project.at = ("b1",)  # moved by another run before this one got the lock
    assert run(ctx) == NoOp("b1", "b1")
    assert ctx.target.locks == 1
    assert answered(ctx) == (Status.UP_TO_DATE, "already at b1; nothing to apply for b1")
    assert ctx.result.pending == []
    # the run row starts from what is read there
    assert ledger.runs[0] == (
        "start",
        "downgrade",
        "running",
        "b1",
    )
    assert ledger.runs[-1][:2] == ("finish", "up_to_date")


def test_accept_records_the_file_and_closes_the_run_where_the_database_is(tmp_path: Path) -> None:
    ledger = Ledger()
    ctx = context(tmp_path, Command.ACCEPT, "b2", at=("b3",), ledger=ledger)
    run(ctx)
    status, message = answered(ctx)
    assert status is Status.APPLIED
    assert message.startswith("accepted the deployed file of b2 (sha256 ") and message.endswith(
        "); no DDL ran"
    )
    assert ledger.runs[-2:] == [("step", "b2", "accepted"), ("finish", "applied", "b3", "")]
    assert ctx.result.to_revision == "b3"


def test_accept_refuses_a_revision_that_is_not_applied(tmp_path: Path) -> None:
    ledger = Ledger()
    ctx = context(tmp_path, Command.ACCEPT, "b3", at=("b1",), ledger=ledger)
    with pytest.raises(HookError) as raised:
        run(ctx)
    assert raised.value.kind is ErrorKind.BAD_REVISION
    assert ledger.runs[-1] == ("finish", "failed", "b1", "bad_revision")


# -- the fast path and the full path: one answer for one situation ---------------------------------------------


def log_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, Any]]:
    return [
        (
            r.levelname,
            r.getMessage(),
            {k: getattr(r, k, None) for k in ("current", "heads", "pending", "command")},
        )
        for r in caplog.records
        if r.name == "alembic-hook"
    ]


def fast_answer(command: Command, revision: str | None, at: tuple[str, ...]) -> Result:
    """What at_head.answer writes once it has read the database at `at` (the heads being CHAIN's)."""
    request = Request(command, revision)
    result = Result(
        command=command.value, status=Status.FAILED, target=revision, database="db:5432/app"
    )
    situation(result, command, at, (CHAIN[-1],), list)
    give(result, at_head.decide(request, at, (CHAIN[-1],)))
    return result


@pytest.mark.parametrize(
    ("command", "revision"),
    [
        (Command.UPGRADE, None),
        (Command.UPGRADE, "head"),
        (Command.UPGRADE, "heads"),
        (Command.STATUS, None),
    ],
)
def test_both_paths_answer_a_database_at_head_alike(
    command: Command, revision: str | None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="alembic-hook"):
        ctx = context(tmp_path, command, revision, at=("b3",))
        run(ctx)
        full_logs = log_lines(caplog)
        caplog.clear()
        fast = fast_answer(command, revision, ("b3",))
        fast_logs = log_lines(caplog)
    full = ctx.result
    full.run_id = None  # the ledger row's id: the fake ledger's, not the fast path's INSERT
    assert fast.to_dict() == full.to_dict()
    assert fast_logs == full_logs
    assert [m for _, m, _ in fast_logs] == ["Migration status before"]

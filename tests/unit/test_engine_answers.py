"""What the engine answers for what a command found or did (`engine/answer.py`), without a database: the
status and the message of every outcome, the fields `give` writes, and the situation's log line.

The messages are the wire's: callers (CodePipeline's summary, CloudFormation's reason, the CLI's headline)
show them, and the real-database tests assert them too; here each is pinned to the case that produces it."""

from __future__ import annotations

import logging
from typing import Any, get_args

import pytest

from lambda_fn.contract import Status
from lambda_fn.engine.answer import (
    Accepted,
    Applied,
    Found,
    HeadRevisions,
    History,
    Linted,
    LintedOffline,
    Logged,
    NoOp,
    NothingToRehearse,
    Outcome,
    Partial,
    Ready,
    Rehearsed,
    Skipped,
    Sql,
    Stamped,
    Stopped,
    give,
    situation,
)
from lambda_fn.findings import Finding, FindingClass
from lambda_fn.request import Command
from lambda_fn.result import Result


def finding(*, refused: bool = False, acknowledged: str | None = None) -> Finding:
    return Finding(
        "b2",
        "adding-not-nullable-field",
        FindingClass.INCOMPATIBLE,
        "ALTER TABLE t ...",
        "t",
        "add it nullable first",
        refused=refused,
        acknowledged=acknowledged,
    )


CASES: list[tuple[Outcome, Status, str]] = [
    (Found("b2", ("b2",), ()), Status.UP_TO_DATE, "at b2; up to date with head b2"),
    (
        Found(None, ("b2",), ("b1", "b2")),
        Status.PENDING,
        "at an empty database (no revision); 2 pending: b1, b2",
    ),
    (
        Found(
            "b1",
            ("b2",),
            ("b2",),
            (finding(refused=True), finding(acknowledged="backfilled"), finding()),
        ),
        Status.PENDING,
        "at b1; 1 pending: b2; safety gate: 1 refused, 1 acknowledged, 1 not refused",
    ),
    # judged: nothing found
    (
        Found("b1", ("b2",), ("b2",), ()),
        Status.PENDING,
        "at b1; 1 pending: b2",
    ),
    (NoOp("b2", "head"), Status.UP_TO_DATE, "already at b2; nothing to apply for head"),
    (NoOp(None, "base"), Status.UP_TO_DATE, "already at base; nothing to apply for base"),
    (Applied("upgrade", None, "b2", 2, ()), Status.APPLIED, "upgraded 2 revision(s): base -> b2"),
    (
        Applied("downgrade", "b2", None, 2, ("b1", "b2")),
        Status.APPLIED,
        "downgraded 2 revision(s): b2 -> base",
    ),
    (
        Partial(
            "stopped before b3: the invocation's time budget is spent (2 revision(s) applied); call again",
            ("b3",),
        ),
        Status.PARTIAL,
        "stopped before b3: the invocation's time budget is spent (2 revision(s) applied); call again",
    ),
    (
        Stopped("Waited 5 s for the database."),
        Status.PARTIAL,
        "stopped: Waited 5 s for the database. Nothing more was applied in this iteration; call again.",
    ),
    (Skipped(), Status.SKIPPED, "SKIP_MIGRATIONS is set: the database was not touched."),
    (Stamped("b1", "empty", ("b2",)), Status.APPLIED, "stamped b1 (was empty); no DDL ran"),
    (Stamped(None, "b2", ("b1", "b2")), Status.APPLIED, "stamped base (was b2); no DDL ran"),
    (
        Accepted("b1", "0123456789abcdef" * 4, "b2"),
        Status.APPLIED,
        "accepted the deployed file of b1 (sha256 0123456789ab); no DDL ran",
    ),
    (
        Ready("db:5432/app", "the hook's connection", "meta.versions", 3, ("b2",), ("b2",)),
        Status.PENDING,
        "ready: env.py migrates db:5432/app through the hook's connection; version table meta.versions; 3 revision(s) "
        "import cleanly; head b2; 1 pending",
    ),
    (
        Ready("db:5432/app", "url", "alembic_version", 3, ("b2",), ()),
        Status.UP_TO_DATE,
        "ready: env.py migrates db:5432/app through url; version table alembic_version; 3 revision(s) import cleanly; "
        "head b2; 0 pending",
    ),
    (HeadRevisions(("b2", "c1")), Status.OK, "head(s): b2, c1"),
    (History(3), Status.OK, "3 revisions"),
    (
        Logged(0, None, ledger=False),
        Status.OK,
        "no ledger yet: the hook has not changed this database",
    ),
    (Logged(2, None), Status.OK, "2 run(s), newest first"),
    (Logged(1, "b1"), Status.OK, "1 run(s), newest first, touching b1"),
    (Sql("heads", ()), Status.UP_TO_DATE, "nothing to apply: the database is at or past heads"),
    (
        Sql("b2", ("b1", "b2"), (finding(),)),
        Status.PENDING,
        "SQL for 2 pending revision(s); safety gate: 1 not refused",
    ),
    (Sql("b2", ("b1",), None), Status.PENDING, "SQL for 1 pending revision(s)"),
    (
        Linted(0, "b2", ()),
        Status.UP_TO_DATE,
        "0 pending revision(s) checked against the database at b2: no findings",
    ),
    (
        Linted(1, None, (finding(acknowledged="why"),)),
        Status.PENDING,
        "1 pending revision(s) checked against the database at base: 1 acknowledged",
    ),
    (
        LintedOffline(4, ()),
        Status.OK,
        "4 revision(s) linted offline (sizes unknown: a deploy judges blocking "
        "findings against the live tables): no findings",
    ),
    (NothingToRehearse(None), Status.UP_TO_DATE, "nothing to rehearse: the target is at base"),
    (
        Rehearsed(2, "copy:5432/app", "clone", 1.234, 2.0),
        Status.OK,
        "rehearsed 2 revision(s) on copy:5432/app (clone) in 1.23 s: within policy (blocking locks on tables with "
        "rows at most 2 s)",
    ),
]


@pytest.mark.parametrize(
    ("outcome", "status", "message"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_each_outcome_answers_its_status_and_message(
    outcome: Outcome, status: Status, message: str
) -> None:
    assert outcome.answer() == (status, message)
    result = Result(command="upgrade", status=Status.FAILED)
    give(result, outcome)
    assert (result.status, result.message) == (status, message)
    assert result.error is None


def test_every_outcome_kind_has_a_case() -> None:
    kinds = set(get_args(Outcome))
    assert kinds == {type(outcome) for outcome, _, _ in CASES}


def test_give_writes_what_remains_and_the_target_of_a_no_op() -> None:
    result = Result(command="upgrade", status=Status.FAILED, pending=["b1", "b2"])
    give(result, NoOp("b2", "head"))
    assert (result.pending, result.target) == ([], "head")

    for outcome, left in (
        (Applied("upgrade", None, "b1", 1, ("b2",)), ["b2"]),
        (Partial("stopped", ("b3",)), ["b3"]),
        (Stamped("b1", "empty", ("b2",)), ["b2"]),
    ):
        result = Result(command="upgrade", status=Status.FAILED, pending=["x"])
        give(result, outcome)
        assert result.pending == left

    result = Result(command="heads", status=Status.FAILED)
    give(result, HeadRevisions(("b2", "c1")))
    assert result.heads == ["b2", "c1"]


def test_give_leaves_what_the_command_recorded_on_the_way() -> None:
    """The applied revisions, where the database is and the findings are written as the command goes (so a
    failure still reports them); the answer does not touch them."""
    result = Result(
        command="status",
        status=Status.FAILED,
        from_revision="b1",
        to_revision="b1",
        heads=["b2"],
        pending=["b2"],
        findings=[finding()],
    )
    before = result.to_dict()
    give(result, Found("b1", ("b2",), ("b2",), (finding(),)))
    after = result.to_dict()
    assert {k: v for k, v in after.items() if before[k] != v} == {
        "status": Status.PENDING,
        "message": "at b1; 1 pending: b2; safety gate: 1 not refused",
    }


def log_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The records the hook's logger wrote: level, message and the fields a log line carries."""
    keys = ("current", "heads", "pending", "command")
    return [
        {
            "level": r.levelname,
            "message": r.getMessage(),
            **{k: getattr(r, k) for k in keys if hasattr(r, k)},
        }
        for r in caplog.records
        if r.name == "alembic-hook"
    ]


def test_skipped_says_so_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alembic-hook"):
        give(Result(command="upgrade", status=Status.FAILED), Skipped())
    assert log_lines(caplog) == [
        {"level": "WARNING", "message": "SKIP_MIGRATIONS is set: the database was not touched."}
    ]


def test_the_situation_is_on_the_result_and_in_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = Result(command="status", status=Status.FAILED)
    with caplog.at_level(logging.INFO, logger="alembic-hook"):
        situation(result, Command.STATUS, ("b1",), ("b2",), lambda: ["b2"])
    assert (result.from_revision, result.to_revision, result.heads, result.pending) == (
        "b1",
        "b1",
        ["b2"],
        ["b2"],
    )
    assert log_lines(caplog) == [
        {
            "level": "INFO",
            "message": "Migration status before",
            "current": ["b1"],
            "heads": ["b2"],
            "pending": ["b2"],
            "command": "status",
        }
    ]


def test_an_empty_database_has_no_revision() -> None:
    result = Result(command="status", status=Status.FAILED)
    situation(result, Command.STATUS, (), ("b2",), lambda: ["b1", "b2"])
    assert (result.from_revision, result.to_revision) == (None, None)


def test_where_the_database_is_stays_on_the_result_when_reading_what_waits_fails() -> None:
    result = Result(command="status", status=Status.FAILED)

    def broken() -> list[str]:
        raise RuntimeError("the revision map is broken")

    with pytest.raises(RuntimeError):
        situation(result, Command.STATUS, ("b1",), ("b2",), broken)
    assert (result.from_revision, result.heads) == ("b1", ["b2"])


def test_the_module_is_the_one_place_a_status_is_written() -> None:
    """Every outcome's status reaches the result through `give`: the only assignments to a `.status` in the
    package are answer.py's and Result.fail's (a second one would be a second place to keep in step)."""
    import ast
    from pathlib import Path

    import lambda_fn

    root = Path(lambda_fn.__file__).parent
    sites = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else ([node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
            )
            flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
            sites += [
                f"{path.relative_to(root)}:{node.lineno}"
                for e in flat
                if isinstance(e, ast.Attribute) and e.attr == "status"
            ]
    assert sorted(s.split(":")[0] for s in sites) == ["engine/answer.py", "result.py"], sites

"""Rehearsal's pure parts: lock modes in words, the policy keys and the verdict, the copy's settings, the
direct-invoke payload, and the CLI's table and Markdown."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_fn.cli.rehearse import markdown, text
from lambda_fn.contract import ErrorKind
from lambda_fn.engine.gate.policy import Policy
from lambda_fn.engine.rehearsal.copy import copy_settings
from lambda_fn.engine.rehearsal.measure import LockSpan, RevisionMeasure, RowLocks, StatementMeasure
from lambda_fn.engine.rehearsal.modes import blocks
from lambda_fn.engine.rehearsal.observe import _NO_RELATION_LOCK
from lambda_fn.engine.rehearsal.policy import RehearsalPolicy, Use
from lambda_fn.errors import HookError
from lambda_fn.request import Command, CopyDatabase, Request
from lambda_fn.settings import Settings
from lambda_fn.sources import direct


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("AccessShareLock", None),
        ("RowExclusiveLock", None),
        ("ShareUpdateExclusiveLock", None),
        ("ShareLock", "writes"),
        ("ShareRowExclusiveLock", "writes"),
        ("ExclusiveLock", "writes"),
        ("AccessExclusiveLock", "reads and writes"),
        ("SomeFutureLock", "reads and writes"),
    ],
)
def test_modes_in_words(mode: str, expected: str | None) -> None:
    assert blocks(mode) == expected


def _measure(
    held: float, *, rows: bool = True, created: bool = False, duration: float = 1.0
) -> RevisionMeasure:
    return RevisionMeasure(
        "0042",
        "orders",
        "sha",
        duration,
        [StatementMeasure(0, "LOCK TABLE orders", held)],
        [LockSpan("public.orders", "AccessExclusiveLock", 0, 0.0, held, created, rows)],
    )


def test_the_verdict_speaks_in_time() -> None:
    policy = RehearsalPolicy(max_lock_seconds=2.0)
    [v] = policy.violations(_measure(13.9, duration=14.0))
    assert (
        v.text
        == "LOCK TABLE orders: blocks reads and writes on public.orders for 13.9 s on a copy of this "
        "database, 2 s allowed"
    )
    assert policy.violations(_measure(1.5)) == []
    # an empty table in the target
    assert policy.violations(_measure(13.9, rows=False, duration=14)) == []
    # created here: nobody sees it
    assert policy.violations(_measure(13.9, created=True, duration=14)) == []
    [slow] = RehearsalPolicy(max_revision_seconds=10).violations(_measure(0.1, duration=11))
    assert "ran 11.0 s" in slow.text and "10 s allowed" in slow.text


def test_row_locks_of_an_update_count_as_blocking_writes() -> None:
    m = RevisionMeasure(
        "0043",
        "",
        "sha",
        5.0,
        [StatementMeasure(0, "UPDATE orders SET x = 1", 5.0, 10)],
        [],
        [RowLocks(0, "public.orders", 10, 5.0)],
    )
    [v] = RehearsalPolicy(max_lock_seconds=1).violations(m)
    assert "locks 10 row(s) of public.orders against writes for 5.0 s" in v.text


def test_a_measurement_survives_json() -> None:
    m = _measure(3.0)
    assert RevisionMeasure.from_dict(m.to_dict()) == m


def test_policy_keys_and_their_errors() -> None:
    section = {
        "rehearsal": "Used when present",
        "rehearsal_max_lock_seconds": "2.5",
        "rehearsal_max_revision_seconds": "60",
        "rehearsal_max_age_hours": "1",
    }
    assert RehearsalPolicy.from_section(section) == RehearsalPolicy(Use.WHEN_PRESENT, 2.5, 60, 1)
    assert RehearsalPolicy.from_section({"rehearsal": "required"}).use is Use.REQUIRED
    assert RehearsalPolicy.from_section(None) == RehearsalPolicy()
    Policy.from_section(section)  # the gate's own policy accepts the rehearsal's keys
    for bad in ({"rehearsal": "sometimes"}, {"rehearsal_max_lock_seconds": "-1"}):
        with pytest.raises(HookError) as caught:
            RehearsalPolicy.from_section(bad)
        assert (
            caught.value.kind is ErrorKind.CONFIGURATION
            and "docs/rehearsal.md" in caught.value.message
        )


def test_the_copy_never_inherits_the_targets_credentials() -> None:
    target = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:p@prod:5432/app",
            "POSTGRES_HOST": "prod",
            "DB_LOCK_TIMEOUT_SECONDS": "2",
        }
    )
    copy = copy_settings(target, CopyDatabase(url="postgresql://u:p@copy:5432/app"))
    assert copy.env["DATABASE_URL"].endswith("@copy:5432/app") and "POSTGRES_HOST" not in copy.env
    assert copy.table_lock_timeout == 2 and copy.secret_id is None
    secret = copy_settings(
        Settings(secret_id="arn:prod"), CopyDatabase(host="clone.example", port=5433)
    )
    assert (secret.secret_id, secret.db_host, secret.db_port) == ("arn:prod", "clone.example", 5433)
    with pytest.raises(HookError, match="needs its endpoint"):
        copy_settings(Settings(secret_id="arn:prod"), CopyDatabase())


def test_the_direct_payload_takes_a_copy() -> None:
    request = direct.parse(
        {
            "command": "rehearse",
            "copy": {
                "host": "clone",
                "port": "5432",
                "name": "app",
                "secret_arn": "arn:s",
                "kind": "clone",
            },
        }
    )
    assert request == Request(
        Command.REHEARSE,
        copy=CopyDatabase(secret_arn="arn:s", host="clone", port=5432, name="app", kind="clone"),
    )
    request.validate()
    for bad in ({"copy": {"host": "c", "user": "x"}}, {"copy": "c"}, {"copy": {"port": "x"}}):
        with pytest.raises(HookError) as caught:
            direct.parse({"command": "rehearse", **bad})
        assert caught.value.kind is ErrorKind.BAD_REQUEST
    with pytest.raises(HookError, match="needs one"):
        Request(Command.REHEARSE).validate()
    with pytest.raises(HookError, match="only rehearse takes a copy"):
        Request(Command.UPGRADE, copy=CopyDatabase(host="c")).validate()


def _result() -> dict[str, Any]:
    return {
        "status": "failed",
        "message": "Rehearsed 1 revision(s) ...",
        "rehearsal": {
            "copy": "u@copy:5432/app",
            "kind": "clone",
            "policy": {"max_lock_seconds": 2.0, "max_revision_seconds": 180},
            "violations": [
                "LOCK TABLE orders: blocks reads and writes on public.orders for 13.9 s ..., 2 s allowed"
            ],
            "revisions": [_measure(13.9, duration=14.0).to_dict()],
        },
    }


def test_the_table_and_the_markdown() -> None:
    out = text(_result())
    assert (
        "ACCESS EXCLUSIVE public.orders 13.90 s (blocks reads and writes)" in out
        and "14.00 s" in out
    )
    md = markdown(_result())
    assert md.startswith("### Migration rehearsal: ❌ refused")
    assert "| revision | time | locks that block | rewrites | rows locked | growth |" in md
    assert "| 0042 | 14.00 s |" in md and "- LOCK TABLE orders" in md and "lazily" in md


@pytest.mark.parametrize(
    ("sql", "unread"),
    [
        ("SELECT 1", True),
        ("select 1;", True),
        ("SELECT 1, 'a' AS x", True),
        ("SELECT current_user", True),
        ("SET statement_timeout = '5000ms'", True),
        ("SET LOCAL lock_timeout = 1", True),
        ("RESET ALL", True),
        ("SHOW search_path", True),
        ("SAVEPOINT s", True),
        # anything that may lock a relation is read
        ("SET CONSTRAINTS ALL IMMEDIATE", False),  # fires deferred triggers
        ("SELECT 1; LOCK TABLE orders", False),
        ("SET x = 1; LOCK TABLE orders", False),
        ("SELECT count(*) FROM orders", False),
        ("SELECT pg_sleep(1)", False),
        ("SELECT 1 INTO t", False),
        ("SELECT 'orders'::regclass", False),
        ("SELECT 1 UNION TABLE orders", False),
        ("SELECT 1 +++ 2", False),
        ("SELECT %s", False),
        ("UPDATE alembic_version SET version_num = 'x'", False),
        ("SETTLE", False),
    ],
)
def test_which_statements_are_not_followed_by_a_pg_locks_read(sql: str, unread: bool) -> None:
    assert bool(_NO_RELATION_LOCK.match(sql)) is unread

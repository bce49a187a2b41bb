"""The safety gate's parts without a database: the policy, the SQL bookkeeping, the squawk runner's guards,
and how each caller renders findings (and the direct escape's confirmation)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from lambda_fn.contract import ErrorKind
from lambda_fn.engine.gate import squawk
from lambda_fn.engine.gate.policy import Policy
from lambda_fn.engine.gate.sql import created_table, normalise_name, split, tables
from lambda_fn.errors import HookError
from lambda_fn.findings import Finding, FindingClass, listing
from lambda_fn.request import Command
from lambda_fn.result import Result
from lambda_fn.sources import cloudformation, codepipeline, direct
from lambda_fn.sources.base import LambdaInfo

RENDERED = """BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL
);

-- Running upgrade  -> r1

CREATE TABLE t (id int);

INSERT INTO alembic_version (version_num) VALUES ('r1') RETURNING alembic_version.version_num;

COMMIT;

BEGIN;

-- Running upgrade r1 -> r2

COMMIT;

CREATE INDEX CONCURRENTLY ix ON t (id);

BEGIN;

UPDATE alembic_version SET version_num='r2' WHERE alembic_version.version_num = 'r1';

COMMIT;

"""


def test_split_gives_each_revision_its_statements_and_transaction_state() -> None:
    r1, r2 = split(RENDERED)
    assert [s.sql for s in r1.normalised()] == ["BEGIN", "CREATE TABLE t (id int)", "COMMIT"]
    assert [(s.sql, s.in_transaction) for s in r2.normalised() if not s.control] == [
        ("CREATE INDEX CONCURRENTLY ix ON t (id)", False)
    ]
    text, statements, lines = r1.text()
    assert (
        text == "BEGIN;\n\nCREATE TABLE t (id int);\n\nCOMMIT;\n"
        and lines == [0, 2, 4]
        and len(statements) == 3
    )


def test_tables_named_by_a_statement() -> None:
    assert tables("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON public.users (a)") == [
        "public.users"
    ]
    assert tables(
        'ALTER TABLE ONLY "Users" ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES orgs (id)'
    ) == ['"Users"', "orgs"]
    assert tables("DROP INDEX CONCURRENTLY IF EXISTS ix_c") == ["ix_c"]
    assert tables("VACUUM (FULL, VERBOSE) big") == ["big"]
    assert normalise_name("public.Users") == "users" and normalise_name('"Users"') == "Users"
    assert created_table("CREATE TABLE IF NOT EXISTS app.t (id int)") == "app.t"


def test_policy_defaults_and_errors() -> None:
    default = Policy.from_section(None)
    assert default.refuse == {FindingClass.INCOMPATIBLE, FindingClass.BLOCKING}
    assert "prefer-text-field" in default.disabled and "require-lock-timeout" in default.disabled
    custom = Policy.from_section(
        {
            "refuse": "incompatible, blocking, data",
            "small_table_rows": "1_000",
            "enable": "prefer-text-field",
            "disable": "ban-drop-table",
            "pg_version": "16",
            "here": "/x",
        }
    )
    assert FindingClass.DATA in custom.refuse and custom.small_table_rows == 1000
    assert "prefer-text-field" not in custom.disabled and "ban-drop-table" in custom.disabled
    assert custom.pg_version == "16.0"  # squawk reads "16" as older than "16.0"
    assert Policy.from_section({"refuse": "none"}).refuse == frozenset()
    for bad in (
        {"refuse_classes": "blocking"},
        {"refuse": "blockin"},
        {"small_table_rows": "many"},
        {"pg_version": "latest"},
    ):
        with pytest.raises(HookError) as caught:
            Policy.from_section(bad)
        assert (
            caught.value.kind is ErrorKind.CONFIGURATION
            and "[alembic_hook]" in caught.value.message
        )


def _fake_squawk(tmp_path: Path, script: str) -> str:
    path = tmp_path / "squawk"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_squawk_exit_1_without_findings_is_never_clean(tmp_path: Path) -> None:
    binary = _fake_squawk(tmp_path, "echo 'config error' >&2; exit 1")
    with pytest.raises(HookError) as caught:
        squawk.lint(binary, {"r1": "SELECT 1;"}, pg_version="14.0", timeout=10)
    assert caught.value.kind is ErrorKind.INTERNAL and "config error" in caught.value.message
    usage = _fake_squawk(tmp_path, "exit 2")
    with pytest.raises(HookError):
        squawk.lint(usage, {"r1": "SELECT 1;"}, pg_version="14.0", timeout=10)


def test_squawk_findings_map_back_to_their_revision() -> None:
    binary = squawk.find()
    assert binary is not None, "squawk-cli is a dev dependency"
    out = squawk.lint(
        binary,
        {
            "clean": "BEGIN;\n\nSELECT 1;\n\nCOMMIT;\n",
            "dirty": "BEGIN;\n\nALTER TABLE u DROP COLUMN c;\n\nCOMMIT;\n",
        },
        pg_version="14.0",
        timeout=30,
    )
    assert out["clean"] == []
    assert [(v.rule, v.line) for v in out["dirty"] if "timeout" not in v.rule] == [
        ("ban-drop-column", 2)
    ]


def _finding(i: int, **kw: object) -> Finding:
    base: dict[str, Any] = {
        "revision": f"r{i}",
        "rule": "ban-drop-column",
        "category": FindingClass.INCOMPATIBLE,
        "statement": f"ALTER TABLE t{i} DROP COLUMN c" + " x" * 40,
        "table": f"t{i}",
        "fix": "expand now, contract after the deploy",
        "refused": True,
    }
    base.update(kw)
    return Finding(**base)


def _refused(n: int) -> Result:
    result = Result.failure(
        "upgrade", HookError(ErrorKind.UNSAFE_MIGRATION, "Refused before any DDL.", "r0")
    )
    result.findings = [_finding(i) for i in range(n)]
    result.findings.append(_finding(99, refused=False, acknowledged="fine", rule="ban-drop-table"))
    return result


def test_codepipeline_failure_message_lists_refused_findings_first_within_the_limit() -> None:
    details = codepipeline.failure_details(_refused(200), LambdaInfo())
    assert details["type"] == "ConfigurationError"
    message = details["message"]
    assert len(message) <= codepipeline.MESSAGE_LIMIT and message.endswith("...")
    assert (
        "Findings: (1) r0 ban-drop-column [incompatible] on t0: ALTER TABLE t0 DROP COLUMN c"
        in message
    )
    assert "Fix: expand now" in message
    small = codepipeline.failure_details(_refused(1), LambdaInfo())["message"]
    assert (
        small.index("(1) r0") < small.index("(2) r99 ban-drop-table")
        and "Acknowledged: fine" in small
    )


def test_cloudformation_reason_lists_findings_and_fits() -> None:
    event = {
        "RequestType": "Update",
        "ResponseURL": "https://x",
        "StackId": "s",
        "RequestId": "q",
        "LogicalResourceId": "RunMigrations",
        "PhysicalResourceId": "RunMigrations-migrations",
    }
    body = cloudformation.response_body(event, _refused(200), LambdaInfo())
    assert len(body) <= cloudformation.MAX_BODY
    reason = json.loads(body)["Reason"]
    assert (
        reason.startswith("[unsafe_migration] Refused before any DDL.")
        and "(1) r0 ban-drop-column" in reason
    )


def test_listing_is_empty_without_findings_and_skips_advisory_by_default() -> None:
    assert listing(None) == "" and listing([]) == ""
    advisory = _finding(1, refused=False, category=FindingClass.ADVISORY)
    assert listing([advisory]) == "" and "(1) r1" in listing([advisory], everything=True)


def test_direct_escape_needs_its_own_confirmation_word() -> None:
    unconfirmed = direct.parse({"no_lint": "approved"})
    assert unconfirmed.skip_lint == "approved" and not unconfirmed.skip_lint_confirmed
    with pytest.raises(HookError) as caught:
        unconfirmed.validate()
    assert caught.value.kind is ErrorKind.CONFIRMATION_REQUIRED
    # confirming the command is not confirming the escape
    assert not direct.parse({"no_lint": "approved", "confirm": "upgrade"}).skip_lint_confirmed
    confirmed = direct.parse({"no_lint": "approved", "confirm": "no-lint"})
    confirmed.validate()
    assert confirmed.command is Command.UPGRADE and confirmed.skip_lint_confirmed
    for bad in (
        {"no_lint": "", "confirm": "no-lint"},
        {"no_lint": None, "confirm": "no-lint"},
        {"command": "status", "no_lint": "x", "confirm": "no-lint"},
    ):
        with pytest.raises(HookError) as refused:
            direct.parse(bad).validate()
        assert refused.value.kind is ErrorKind.BAD_REQUEST

"""The hook's pg8000 dialect sends what psycopg2's would: the same SQL without bind casts, and parameters
written in as the literals psycopg2's dialect renders (`literal_binds`), so PostgreSQL infers their types
the same way."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg2

from lambda_fn.postgres.dialect import HookPg8000Dialect, inline_parameters, sql_literal

T = sa.table("t", sa.column("n", sa.Integer), sa.column("s", sa.String), sa.column("d", sa.Date))
STATEMENTS = {
    "literal string into an integer": sa.update(T).values(n=sa.literal("0")),
    "untyped parameter in json_build_object": sa.select(
        sa.func.json_build_object("prefix", sa.bindparam("p", "x"))
    ),
    "insert": sa.insert(T).values(n=1, s="it's", d=date(2024, 1, 2)),
    "where with a percent": sa.select(T.c.n)
    .where(T.c.s.like("100%"))
    .where(T.c.n > Decimal("1.5")),
}


def placeholders_as_positional(sql: str) -> str:
    return re.sub(r"%\((\w+)\)s", "%s", sql)


@pytest.mark.parametrize("name", STATEMENTS)
def test_no_bind_casts_same_sql_as_psycopg2(name: str) -> None:
    stmt = STATEMENTS[name]
    ours = str(stmt.compile(dialect=HookPg8000Dialect()))
    theirs = placeholders_as_positional(str(stmt.compile(dialect=psycopg2.dialect())))
    assert "::" not in ours
    assert ours.replace("%%", "%") == theirs.replace("%%", "%")


@pytest.mark.parametrize("name", STATEMENTS)
def test_inlined_parameters_are_the_literals_psycopg2s_dialect_renders(name: str) -> None:
    stmt = STATEMENTS[name]
    compiled = stmt.compile(dialect=HookPg8000Dialect())
    params = [compiled.params[key] for key in compiled.positiontup or []]
    ours = inline_parameters(str(compiled), params)
    theirs = str(stmt.compile(dialect=psycopg2.dialect(), compile_kwargs={"literal_binds": True}))
    assert ours is not None
    assert ours.replace("%%", "%") == theirs.replace("%%", "%")


def test_placeholders_inside_quotes_and_comments_are_not_parameters() -> None:
    sql = "SELECT '%s', \"%s\", %s, $$ %s $$ -- %s\n, %s"
    assert inline_parameters(sql, [1, "a"]) == "SELECT '%s', \"%s\", 1, $$ %s $$ -- %s\n, 'a'"


def test_values_without_psycopg2s_literal_form_go_as_parameters() -> None:
    assert sql_literal(object()) is None and sql_literal("nul\x00") is None
    assert inline_parameters("SELECT %s", [object()]) is None
    # a count that does not match: pg8000 judges it
    assert inline_parameters("SELECT %s, %s", [1]) is None


def test_backslashes_mean_the_same_whatever_standard_conforming_strings_says() -> None:
    assert sql_literal("a\\b'c") == "E'a\\\\b''c'"
    assert sql_literal(float("nan")) == "'nan'::float"

"""What a revision argument means before any project is read, and how a version table is spelled."""

from __future__ import annotations

import pytest

from lambda_fn.engine.heads_manifest import VersionTable
from lambda_fn.request import is_heads


@pytest.mark.parametrize(
    "target,expected",
    [
        ("head", True),
        ("heads", True),
        ("base", False),
        ("r0001", False),
        ("head-1", False),
        (None, False),
        ("", False),
    ],
)
def test_head_and_heads_both_name_every_head(target: str | None, expected: bool) -> None:
    assert is_heads(target) is expected


def test_a_version_table_is_spelled_once_for_people_and_once_for_sql() -> None:
    assert VersionTable().qualified() == "alembic_version"
    assert VersionTable("versions", "tenant a").qualified() == "tenant a.versions"
    assert VersionTable().quoted() == '"alembic_version"'
    assert VersionTable("Versions", "tenant a").quoted() == '"tenant a"."Versions"'

"""Shared fixtures: real PostgreSQL clusters the tests start themselves (plain, and TLS with a test CA).
The kit behind them lives in tests/support/database.py; import from there, never from this file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.database import Database, create_database
from tools.localpg import LocalPostgres, throwaway


@pytest.fixture(scope="session")
def pg() -> Iterator[LocalPostgres]:
    with throwaway() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg_tls() -> Iterator[LocalPostgres]:
    with throwaway(tls=True) as cluster:
        yield cluster


@pytest.fixture
def db(pg: LocalPostgres) -> Database:
    return create_database(pg)

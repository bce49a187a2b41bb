"""Rehearsals on record in the target's ledger (`<prefix>rehearsals`, next to the runs and revisions): one row
per revision measured, keyed by the sha256 of its file and the target's revision when it was rehearsed (the
start of the range), with when. The gate takes the newest row that matches the file deployed now and the
revision the target is at now, and is younger than the policy's age."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from lambda_fn.engine.ledger import Ledger
from lambda_fn.engine.rehearsal.measure import RevisionMeasure


@dataclass(frozen=True)
class OnRecord:
    measure: RevisionMeasure
    age_s: float
    copy: str
    kind: str


def _table(ledger: Ledger) -> str:
    return ledger.names.table("rehearsals")


def exists(ledger: Ledger) -> bool:
    found = bool(ledger.execute("SELECT to_regclass(:t) IS NOT NULL", {"t": _table(ledger)})[0][0])
    ledger.commit()
    return found


def create(ledger: Ledger) -> None:
    """The table, if it is not there yet (the caller holds the target's migration lock)."""
    if ledger.names.schema:
        ledger.execute(f'CREATE SCHEMA IF NOT EXISTS "{ledger.names.schema}"', {})
    ledger.execute(
        f"""CREATE TABLE IF NOT EXISTS {_table(ledger)} (
        id bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now(), revision text NOT NULL,
        sha256 text NOT NULL, target_revision text, copy text, copy_kind text, measurement jsonb NOT NULL)""",
        {},
    )
    ledger.commit()


def save(
    ledger: Ledger, measures: Sequence[RevisionMeasure], target_at: str | None, copy: str, kind: str
) -> None:
    """Write the measurements, in one statement (the table exists: `create`)."""
    ledger.execute(
        f"INSERT INTO {_table(ledger)} (revision, sha256, target_revision, copy, copy_kind, measurement) "
        "SELECT m->>'revision', m->>'sha256', :at, :copy, :kind, m "
        "FROM jsonb_array_elements(CAST(:ms AS jsonb)) WITH ORDINALITY AS e(m, i) ORDER BY i",
        {
            "at": target_at,
            "copy": copy,
            "kind": kind,
            "ms": json.dumps([m.to_dict() for m in measures]),
        },
    )
    ledger.commit()


def fresh(
    ledger: Ledger, target_at: str | None, files: dict[str, str], max_age_hours: float
) -> dict[str, OnRecord]:
    """revision -> its newest rehearsal that matches its file (sha256) and the target's revision now, and is
    fresh. An edited revision, another starting revision, or an old rehearsal does not match."""
    table = _table(ledger)
    if not files or not ledger.execute("SELECT to_regclass(:t) IS NOT NULL", {"t": table})[0][0]:
        ledger.commit()
        return {}
    rows = ledger.execute(
        f"SELECT DISTINCT ON (revision) revision, sha256, measurement::text, "
        f"extract(epoch FROM now() - recorded_at)::float8, coalesce(copy, ''), coalesce(copy_kind, '') "
        f"FROM {table} WHERE revision || ':' || sha256 = ANY(:keys) AND target_revision IS NOT DISTINCT FROM :at "
        f"AND recorded_at > now() - make_interval(secs => :age) ORDER BY revision, id DESC",
        {
            "keys": [f"{r}:{sha}" for r, sha in files.items()],
            "at": target_at,
            "age": max_age_hours * 3600,
        },
    )
    ledger.commit()
    return {
        str(rev): OnRecord(
            RevisionMeasure.from_dict(json.loads(measurement)), float(age), copy, kind
        )
        for rev, _sha, measurement, age, copy, kind in rows
    }

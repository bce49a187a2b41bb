"""From lint records to findings: the policy, the revision's acknowledgments, the range catalogue (tables the
pending revisions create) and, at deploy time, the live catalogue's estimates.

- A finding on a table created earlier in this deploy's range (and absent from the live database) concerns
  a table no running code uses yet: advisory, whatever its class.
- A blocking (or data) finding on a table the catalogue estimates below `small_table_rows` is advisory.
  Incompatible findings never are: a small table is still read by the old code.
- Rules that say a statement fails or cannot be judged (CONCURRENTLY in a transaction, a revision that
  cannot be rendered offline, ...) are never lowered.
- An acknowledged finding passes and carries its reason; any class in the policy's `refuse` refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alembic.script import Script

from lambda_fn.engine.gate import rules
from lambda_fn.engine.gate.policy import Policy
from lambda_fn.engine.gate.sql import normalise_name
from lambda_fn.engine.gate.store import LintRecord, RawFinding
from lambda_fn.findings import Finding, FindingClass

ACKNOWLEDGE = "alembic_hook_acknowledge"
# a never-analyzed table (reltuples = -1) is judged by its size on disk, at this many bytes a row (narrow
# rows: the estimate errs towards "big")
BYTES_PER_ROW_GUESS = 64

CATALOGUE_SQL = """
SELECT n.input, t.oid IS NOT NULL, t.reltuples::float8, pg_relation_size(t.oid)::int8,
       CASE WHEN t.oid IS NOT NULL THEN format('%I.%I', ns.nspname, t.relname) END
  FROM unnest(CAST(:names AS text[])) AS n(input)
  LEFT JOIN pg_class c ON c.oid = to_regclass(n.input)
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_class t ON t.oid = coalesce(i.indrelid, c.oid)
  LEFT JOIN pg_namespace ns ON ns.oid = t.relnamespace
"""


@dataclass(frozen=True)
class TableFacts:
    """The live catalogue's view of a relation a finding names (an index resolves to its table)."""

    exists: bool
    reltuples: float | None = None   # None or < 0: never analyzed
    heap_bytes: int = 0
    table: str | None = None

    def rows(self) -> tuple[float, str]:
        """The estimated row count and how it was estimated."""
        if self.reltuples is not None and self.reltuples >= 0:
            return self.reltuples, "pg_class.reltuples estimate"
        return self.heap_bytes / BYTES_PER_ROW_GUESS, (f"never analyzed: {self.heap_bytes} bytes on disk at "
                                                       f"{BYTES_PER_ROW_GUESS} bytes a row")


def names_to_judge(records: Mapping[str, LintRecord], policy: Policy) -> list[str]:
    """The relations whose live facts the judgement needs (none when no finding could be lowered)."""
    names: dict[str, str] = {}
    for record in records.values():
        for raw in record.findings:
            rule = rules.rule(raw.rule)
            if raw.rule in policy.disabled or not rule.judgeable or rule.category is FindingClass.ADVISORY:
                continue
            for name in raw.tables:
                names.setdefault(normalise_name(name), name)
    return list(names.values())


def catalogue(conn: Any, names: Sequence[str]) -> dict[str, TableFacts]:
    """One round trip: {normalised name: facts}. `conn` is a SQLAlchemy Connection; no transaction is left."""
    if not names:
        return {}
    from sqlalchemy import text

    rows = conn.execute(text(CATALOGUE_SQL), {"names": list(names)}).all()
    conn.commit()
    return {normalise_name(str(r[0])): TableFacts(bool(r[1]), None if r[2] is None else float(r[2]),
                                                  int(r[3] or 0), r[4]) for r in rows}


def acknowledgments(script: Script) -> tuple[dict[str, str], str | None]:
    """The revision's `alembic_hook_acknowledge` mapping, or the reason it is malformed."""
    value = getattr(getattr(script, "module", None), ACKNOWLEDGE, None)
    if value is None:
        return {}, None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
                                              for k, v in value.items()):
        return {}, f"{ACKNOWLEDGE} must map rule names to non-empty reasons (str -> str)."
    return {k.strip(): " ".join(v.split()) for k, v in value.items()}, None


def judge(scripts: Sequence[Script], records: Mapping[str, LintRecord], policy: Policy,
          facts: Mapping[str, TableFacts] | None) -> list[Finding]:
    """Findings for `scripts` in the order they apply. `facts` None: offline (no sizes known)."""
    out: list[Finding] = []
    created: dict[str, str] = {}  # normalised table -> the pending revision that creates it
    for script in scripts:
        record = records[script.revision]
        acks, ack_error = acknowledgments(script)
        raws = list(record.findings)
        if not record.rendered:
            raws.insert(0, RawFinding(rules.NOT_REVIEWABLE, -1, "", [], "The revision cannot be rendered offline "
                                      f"({record.error}), so its SQL cannot be reviewed before it runs."))
        elif not record.linted:
            raws.insert(0, RawFinding(rules.LINT_UNAVAILABLE, -1, "", [], "The revision is not in the asset's lint "
                                      "manifest and no squawk binary is here to lint it."))
        if ack_error:
            raws.insert(0, RawFinding(rules.BAD_ACKNOWLEDGMENT, -1, "", [], ack_error))
        own = dict(record.created)
        seen_rules = set()
        for raw in raws:
            seen_rules.add(raw.rule)
            if raw.rule in policy.disabled:
                continue
            out.append(_finding(script, raw, policy, acks, created=created, own=own, facts=facts))
        for rule_name in sorted(set(acks) - seen_rules):
            if rules.UNUSED_ACKNOWLEDGMENT not in policy.disabled:
                out.append(Finding(script.revision, rules.UNUSED_ACKNOWLEDGMENT, FindingClass.ADVISORY, "", None,
                                   rules.rule(rules.UNUSED_ACKNOWLEDGMENT).fix,
                                   f"{ACKNOWLEDGE} names {rule_name!r}, which this revision does not have.",
                                   path=script.path))
        for name in own:
            created.setdefault(name, script.revision)
    return out


def _finding(script: Script, raw: RawFinding, policy: Policy, acks: Mapping[str, str], *, created: Mapping[str, str],
             own: Mapping[str, int], facts: Mapping[str, TableFacts] | None) -> Finding:
    rule = rules.rule(raw.rule)
    category = rule.category
    judged: str | None = None
    if rule.judgeable and raw.tables and category is not FindingClass.ADVISORY:
        judged = _lower(raw, category, policy, created=created, own=own, facts=facts, revision=script.revision)
    # a malformed acknowledgment, or a linter that is not there, is never waved through from the revision
    acknowledged = acks.get(raw.rule) if raw.rule not in (rules.BAD_ACKNOWLEDGMENT, rules.LINT_UNAVAILABLE) else None
    final = FindingClass.ADVISORY if judged else category
    return Finding(
        revision=script.revision, rule=raw.rule, category=final, statement=raw.statement,
        table=raw.tables[0] if raw.tables else None, fix=rule.fix, message=raw.message,
        refused=final in policy.refuse and acknowledged is None, judged=judged, acknowledged=acknowledged,
        rule_class=category if judged else None, path=script.path, line=raw.line)


def _lower(raw: RawFinding, category: FindingClass, policy: Policy, *, created: Mapping[str, str],
           own: Mapping[str, int], facts: Mapping[str, TableFacts] | None, revision: str) -> str | None:
    """Why every table the finding names makes it harmless, or None."""
    reasons: list[str] = []
    for name in raw.tables:
        key = normalise_name(name)
        live = facts.get(key) if facts is not None else None
        by = created.get(key) or (revision if key in own and own[key] <= raw.index else None)
        if by and not (live and live.exists):
            reasons.append(f"{name} is created in this deploy ({by}): no running code uses it yet")
            continue
        if category is FindingClass.INCOMPATIBLE or live is None or not live.exists:
            return None
        rows, how = live.rows()
        if rows >= policy.small_table_rows:
            return None
        reasons.append(f"{live.table or name} holds about {rows:.0f} rows ({how}), below small_table_rows = "
                       f"{policy.small_table_rows}")
    return "; ".join(reasons) or None

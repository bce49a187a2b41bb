"""From lint records to findings: the policy, the acknowledgments (in the revision, or in the team's
alembic.ini for revisions it cannot edit), the range catalogue (objects the pending revisions create or
rename) and, at deploy time, the live catalogue.

`decide` is the one place where a finding's class is kept or lowered, and why (what PostgreSQL will do);
`_finding` then applies the acknowledgments and the policy's `refuse`. A measurement (issue 20's rehearsal)
replaces the static guess by answering `decide` for the findings it measured.

What lowers a finding (each reason is written on it):
- nothing to protect: the database holds no table yet (a fresh install), or none of the objects the finding
  touches exists in it (created earlier in this range, or absent): advisory, whatever the class;
- a type change PostgreSQL does without a rewrite (pg_cast.castmethod = 'b', a varchar/numeric widening);
  a rewriting one is re-classed blocking (int -> bigint rewrites the table and its indexes);
- SET NOT NULL on a column with a validated CHECK (col IS NOT NULL), PostgreSQL 12+: no scan;
- a foreign key whose referencing (scanned) table is new or small; the referenced side is only locked briefly;
- a constraint dropped and re-added in the same revision: the old code never sees it missing;
- a plain DROP INDEX: constant time, its brief ACCESS EXCLUSIVE wait bounded by the hook's lock_timeout;
- a blocking (or data) finding on a table the catalogue estimates below `small_table_rows` (not for rules
  whose harm is the lock's duration, such as LOCK TABLE). Incompatible findings never are lowered by size.
Rules that say a statement fails or cannot be judged (CONCURRENTLY in a transaction, a revision that cannot
be rendered offline, ...) are lowered only when there is nothing to protect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alembic.script import Script

from lambda_fn.engine.gate import rules
from lambda_fn.engine.gate.policy import Policy
from lambda_fn.engine.gate.sql import normalise_name, touched_objects
from lambda_fn.engine.gate.store import LintRecord, RawFinding
from lambda_fn.findings import Finding, FindingClass

ACKNOWLEDGE = "alembic_hook_acknowledge"
# a never-analyzed table (reltuples = -1) is judged by its size on disk, at this many bytes a row (narrow
# rows: the estimate errs towards "big")
BYTES_PER_ROW_GUESS = 64
FOREIGN_KEY_RULES = frozenset({"adding-foreign-key-constraint", "constraint-missing-not-valid"})

CATALOGUE_SQL = """
SELECT n.input, t.oid IS NOT NULL, t.reltuples::float8, pg_relation_size(t.oid)::int8,
       CASE WHEN t.oid IS NOT NULL THEN format('%I.%I', ns.nspname, t.relname) END
  FROM unnest(CAST(:names AS text[])) AS n(input)
  LEFT JOIN pg_class c ON c.oid = to_regclass(n.input)
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_class t ON t.oid = coalesce(i.indrelid, c.oid)
  LEFT JOIN pg_namespace ns ON ns.oid = t.relnamespace
"""
# "empty": no table of the application's (the version table and the hook's ledger do not count)
DATABASE_SQL = r"""
SELECT NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'p', 'm', 'f', 'v')
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
                      AND c.relname <> 'alembic_version' AND c.relname NOT LIKE 'alembic\_hook\_%'),
       current_setting('server_version_num')::int,
       ARRAY(SELECT k FROM unnest(CAST(:objects AS text[])) AS k
              WHERE CASE WHEN k LIKE 'function:%' THEN EXISTS (SELECT 1 FROM pg_proc
                                                                WHERE proname = split_part(substr(k, 10), '.', -1))
                         ELSE to_regtype(substr(k, 6)) IS NOT NULL END)
"""
COLUMNS_SQL = r"""
SELECT q.tbl, q.col, q.newtype, a.attnum IS NOT NULL, format_type(a.atttypid, a.atttypmod), bt.typname,
       a.atttypmod, coalesce(a.attnotnull, false), nt.typname,
       (SELECT castmethod::text FROM pg_cast WHERE castsource = a.atttypid AND casttarget = nt.oid),
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND k.convalidated
                AND regexp_replace(pg_get_constraintdef(k.oid), '[()"\s]', '', 'g')
                    = 'CHECK' || a.attname || 'ISNOTNULL')
  FROM unnest(CAST(:tbls AS text[]), CAST(:cols AS text[]), CAST(:types AS text[]))
       WITH ORDINALITY AS q(tbl, col, newtype, i)
  LEFT JOIN pg_attribute a ON a.attrelid = to_regclass(q.tbl) AND a.attname = q.col AND a.attnum > 0
                          AND NOT a.attisdropped
  LEFT JOIN pg_type bt ON bt.oid = a.atttypid
  LEFT JOIN pg_type nt ON nt.oid = to_regtype(nullif(q.newtype, ''))
 ORDER BY q.i
"""  # in the order asked: the caller pairs each row with its question (joins alone keep no order)

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_TYPE = r"[A-Za-z_][\w ]*?(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\[\])?"
_ALTER_TYPE = re.compile(
    rf"(?is)\bALTER\s+(?:COLUMN\s+)?({_IDENT})\s+(?:SET\s+DATA\s+)?TYPE\s+({_TYPE})"
    r"\s*(USING\b|COLLATE\b|,|$)"
)
_SET_NOT_NULL = re.compile(rf"(?is)\bALTER\s+(?:COLUMN\s+)?({_IDENT})\s+SET\s+NOT\s+NULL\b")
_SAFE_TYPE = re.compile(rf"^{_TYPE}$")


@dataclass(frozen=True)
class TableFacts:
    """The live catalogue's view of a relation a finding names (an index resolves to its table)."""

    exists: bool
    reltuples: float | None = None  # None or < 0: never analyzed
    heap_bytes: int = 0
    table: str | None = None

    def rows(self) -> tuple[float, str]:
        """The estimated row count and how it was estimated."""
        if self.reltuples is not None and self.reltuples >= 0:
            return self.reltuples, "pg_class.reltuples estimate"
        return self.heap_bytes / BYTES_PER_ROW_GUESS, (
            f"never analyzed: {self.heap_bytes} bytes on disk at {BYTES_PER_ROW_GUESS} bytes a row"
        )


@dataclass(frozen=True)
class ColumnFacts:
    """A column a type change or SET NOT NULL names, and what the catalogue says of the change."""

    exists: bool
    type_name: str | None = None  # format_type: character varying(500)
    base: str | None = None  # pg_type.typname: varchar
    typmod: int = -1
    not_null: bool = False
    new_base: str | None = None  # the new type's typname (None: unknown to this database)
    castmethod: str | None = None  # pg_cast.castmethod from the old type to the new one
    not_null_check: bool = False  # a validated CHECK (col IS NOT NULL)


@dataclass
class Live:
    """Everything the live judgement reads from the target database, in three round trips at most."""

    relations: dict[str, TableFacts] = field(default_factory=dict)  # judge key -> facts
    objects: set[str] = field(default_factory=set)  # function:/type: keys that exist
    # (table key, col, new type)
    columns: dict[tuple[str, str, str], ColumnFacts] = field(default_factory=dict)
    empty: bool = False
    server_version: int = 0


@dataclass(frozen=True)
class Verdict:
    """What `decide` says of one finding: its class after the judgement and why (what PostgreSQL will do)."""

    category: FindingClass
    reason: str | None = None
    lowered: bool = False


@dataclass
class Scope:
    """The range catalogue as the judgement walks it: objects created earlier in the range, renames."""

    # key -> the pending revision that creates it
    created: dict[str, str] = field(default_factory=dict)
    # renamed key -> the key it had before the range
    origin: dict[str, str] = field(default_factory=dict)

    def resolve(self, key: str) -> str:
        return self.origin.get(key, key)

    def apply(self, record: LintRecord, revision: str, upto: int | None = None) -> Scope:
        """This scope after `record`'s statements (those before index `upto`, when given)."""
        out = Scope(dict(self.created), dict(self.origin))
        events = sorted(
            [(i, 0, key, "") for key, i in record.created]
            + [(i, 1, old, new) for old, new, i in record.renamed]
        )
        for index, kind, a, b in events:
            if upto is not None and index > upto:
                break
            if kind == 0:
                out.created.setdefault(a, revision)
            elif a in out.created:
                out.created.setdefault(b, out.created[a])
            else:
                out.origin[b] = out.origin.get(a, a)
        return out


def _keys(raw: RawFinding) -> list[str]:
    return list(
        dict.fromkeys([normalise_name(t) for t in raw.tables] + touched_objects(raw.statement))
    )


def _column_changes(raw: RawFinding) -> list[tuple[str, str]]:
    """(column, new type) for each ALTER COLUMN ... TYPE in the statement; new type "" when not judgeable."""
    out = []
    for m in _ALTER_TYPE.finditer(raw.statement):
        new = " ".join(m.group(2).split())
        using = m.group(3).upper() == "USING"
        out.append((normalise_name(m.group(1)), "" if using or not _SAFE_TYPE.match(new) else new))
    return out


def _quoted(key: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in key.split("."))


def live_catalogue(
    conn: Any, scripts: Sequence[Script], records: Mapping[str, LintRecord], policy: Policy
) -> Live:
    """The live facts the judgement needs. `conn` is a SQLAlchemy Connection; no transaction is left."""
    from sqlalchemy import text

    relations: set[str] = set()
    objects: set[str] = set()
    columns: set[tuple[str, str, str]] = set()
    scope = Scope()
    for script in scripts:
        record = records[script.revision]
        for raw in record.findings:
            rule = rules.rule(raw.rule)
            if raw.rule in policy.disabled or rule.category is FindingClass.ADVISORY:
                continue
            here = scope.apply(record, script.revision, raw.index)
            for key in (here.resolve(k) for k in _keys(raw)):
                if key.startswith(("function:", "type:")):
                    objects.add(key)
                elif not key.startswith("constraint:"):
                    relations.add(key)
            if raw.tables and raw.rule in ("changing-column-type", "adding-not-nullable-field"):
                table = here.resolve(normalise_name(raw.tables[0]))
                changes = (
                    _column_changes(raw)
                    if raw.rule == "changing-column-type"
                    else [
                        (normalise_name(m.group(1)), "")
                        for m in _SET_NOT_NULL.finditer(raw.statement)
                    ]
                )
                columns.update((table, col, new) for col, new in changes)
        scope = scope.apply(record, script.revision)
    live = Live()
    row = conn.execute(text(DATABASE_SQL), {"objects": sorted(objects)}).one()
    live.empty, live.server_version, live.objects = bool(row[0]), int(row[1]), set(row[2] or ())
    if relations:
        quoted = {_quoted(k): k for k in relations}
        for r in conn.execute(text(CATALOGUE_SQL), {"names": list(quoted)}).all():
            live.relations[quoted[str(r[0])]] = TableFacts(
                bool(r[1]), None if r[2] is None else float(r[2]), int(r[3] or 0), r[4]
            )
    if columns:
        ordered = sorted(columns)
        params = {
            "tbls": [_quoted(t) for t, _c, _n in ordered],
            "cols": [c for _t, c, _n in ordered],
            "types": [n for _t, _c, n in ordered],
        }
        for (table, col, new), r in zip(
            ordered, conn.execute(text(COLUMNS_SQL), params).all(), strict=True
        ):
            live.columns[(table, col, new)] = ColumnFacts(
                bool(r[3]), r[4], r[5], int(r[6] or -1), bool(r[7]), r[8], r[9], bool(r[10])
            )
    conn.commit()
    return live


def acknowledgments(script: Script) -> tuple[dict[str, str], str | None]:
    """The revision's `alembic_hook_acknowledge` mapping, or the reason it is malformed."""
    value = getattr(getattr(script, "module", None), ACKNOWLEDGE, None)
    if value is None:
        return {}, None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in value.items()
    ):
        return {}, f"{ACKNOWLEDGE} must map rule names to non-empty reasons (str -> str)."
    return {k.strip(): " ".join(v.split()) for k, v in value.items()}, None


def judge(
    scripts: Sequence[Script], records: Mapping[str, LintRecord], policy: Policy, live: Live | None
) -> list[Finding]:
    """Findings for `scripts` in the order they apply. `live` None: offline (no database known)."""
    out: list[Finding] = []
    scope = Scope()
    for script in scripts:
        record = records[script.revision]
        acks, ack_error = acknowledgments(script)
        for rule_name, reason in policy.acknowledgments_for(script.revision).items():
            acks.setdefault(rule_name, f"{reason} (acknowledged in alembic.ini)")
        raws = list(record.findings)
        if not record.rendered:
            raws.insert(
                0,
                RawFinding(
                    rules.NOT_REVIEWABLE,
                    -1,
                    "",
                    [],
                    "The revision cannot be rendered offline: "
                    f"it runs code that needs the database ({record.error}), so its SQL cannot "
                    "be reviewed before it runs. Measure it on a copy with `alembic-hook "
                    "rehearse`.",
                ),
            )
        elif not record.linted:
            raws.insert(
                0,
                RawFinding(
                    rules.LINT_UNAVAILABLE,
                    -1,
                    "",
                    [],
                    "The revision is not in the asset's lint "
                    "manifest and no squawk binary is here to lint it.",
                ),
            )
        if ack_error:
            raws.insert(0, RawFinding(rules.BAD_ACKNOWLEDGMENT, -1, "", [], ack_error))
        seen_rules = set()
        for raw in raws:
            seen_rules.add(raw.rule)
            if raw.rule in policy.disabled:
                continue
            verdict = decide(raw, record, policy, scope=scope, live=live, revision=script.revision)
            out.append(_finding(script, raw, verdict, policy, acks))
        for rule_name in sorted(set(acks) - seen_rules):
            if rules.UNUSED_ACKNOWLEDGMENT not in policy.disabled:
                out.append(
                    Finding(
                        script.revision,
                        rules.UNUSED_ACKNOWLEDGMENT,
                        FindingClass.ADVISORY,
                        "",
                        None,
                        rules.rule(rules.UNUSED_ACKNOWLEDGMENT).fix,
                        f"The acknowledgment names {rule_name!r}, which this revision does not have.",
                        path=script.path,
                    )
                )
        scope = scope.apply(record, script.revision)
    return out


def _finding(
    script: Script, raw: RawFinding, verdict: Verdict, policy: Policy, acks: Mapping[str, str]
) -> Finding:
    rule = rules.rule(raw.rule)
    # a malformed acknowledgment, or a linter that is not there, is never waved through from the revision
    acknowledged = (
        acks.get(raw.rule)
        if raw.rule not in (rules.BAD_ACKNOWLEDGMENT, rules.LINT_UNAVAILABLE)
        else None
    )
    return Finding(
        revision=script.revision,
        rule=raw.rule,
        category=verdict.category,
        statement=raw.statement,
        table=raw.tables[0] if raw.tables else None,
        fix=rule.fix,
        message=raw.message,
        refused=verdict.category in policy.refuse and acknowledged is None,
        judged=verdict.reason if verdict.lowered else None,
        acknowledged=acknowledged,
        rule_class=rule.category if verdict.category is not rule.category else None,
        path=script.path,
        line=raw.line,
        reason=verdict.reason,
    )


def decide(  # noqa: PLR0911, PLR0912
    raw: RawFinding,
    record: LintRecord,
    policy: Policy,
    *,
    scope: Scope,
    live: Live | None,
    revision: str,
) -> Verdict:
    """THE decision point: the finding's class after the judgement, and why. Pure (no I/O): everything it
    knows is in `record` (the revision's statements' bookkeeping), `scope` (the range before this revision)
    and `live` (the target's catalogue; None offline). A rehearsal's measurement plugs in here."""
    rule = rules.rule(raw.rule)
    category = rule.category
    if category is FindingClass.ADVISORY:
        return Verdict(category)
    if live is not None and live.empty:
        return _lowered(
            "the database holds no table yet (a fresh install): nothing running can be blocked or "
            "broken"
        )
    if not rule.judgeable:
        return Verdict(category, "kept: no table size or creation in this deploy makes it safe")
    here = scope.apply(record, revision, raw.index)
    # what the whole revision creates (a constraint re-added later in it)
    full = scope.apply(record, revision)
    keys = _keys(raw)
    if raw.rule == "ban-drop-constraint":
        again = [
            k
            for k in keys
            if k.startswith("constraint:") and record_creates_after(record, k, raw.index)
        ]
        if again:
            return _lowered(
                f"{again[0].split(':', 1)[1]} is dropped and re-added in this revision's transaction: "
                "the old code never sees it missing"
            )
    new_only = [
        k
        for k in keys
        if k.startswith(("constraint:", "function:", "type:"))
        and k in here.created
        and not (live is not None and k in live.objects)
    ]
    if new_only:
        return _lowered(
            f"{new_only[0].split(':', 1)[1]} is created in this deploy ({here.created[new_only[0]]}): "
            "no running code uses it yet"
        )
    if raw.rule == "require-concurrent-index-deletion":
        return _lowered(
            "DROP INDEX without CONCURRENTLY is constant time: a brief ACCESS EXCLUSIVE lock on the "
            "table, whose wait the hook's lock_timeout bounds (queries queue at most that long)"
        )
    if raw.rule == "changing-column-type" and live is not None and raw.tables:
        verdict = _type_change(raw, here, live, policy)
        if verdict is not None:
            return verdict
    if raw.rule == "adding-not-nullable-field" and live is not None and raw.tables:
        verdict = _set_not_null(raw, here, live)
        if verdict is not None:
            return verdict
    if (
        raw.rule in FOREIGN_KEY_RULES
        and len(raw.tables) > 1
        and "REFERENCES" in raw.statement.upper()
    ):
        reason = _table_harmless(raw.tables[0], here, live, policy, category, full=full)
        if reason:
            return _lowered(
                f"{reason}; validating the foreign key scans only that table, and "
                f"{raw.tables[1]} is locked SHARE ROW EXCLUSIVE for that moment"
            )
        return Verdict(
            category,
            f"kept: validating the foreign key scans {raw.tables[0]} with writes to both "
            "tables blocked",
        )
    relation_keys = [k for k in keys if not k.startswith("constraint:")]
    if not relation_keys:
        return Verdict(category, "kept: the objects it touches cannot be looked up")
    reasons = []
    for key in relation_keys:
        reason = _table_harmless(key, here, live, policy, category, sized=rule.sized, full=full)
        if reason is None:
            return Verdict(category, _kept(raw, key, here, live))
        reasons.append(reason)
    return _lowered("; ".join(reasons))


def record_creates_after(record: LintRecord, key: str, index: int) -> bool:
    return any(k == key and i > index for k, i in record.created)


def _lowered(reason: str) -> Verdict:
    return Verdict(FindingClass.ADVISORY, reason, lowered=True)


def _kept(raw: RawFinding, key: str, scope: Scope, live: Live | None) -> str:
    if live is None:
        return "kept: offline, the live tables' sizes are not known"
    facts = live.relations.get(scope.resolve(key))
    if facts is None or not facts.exists:
        return "kept"
    rows, how = facts.rows()
    return f"kept: {facts.table or key} holds about {rows:.0f} rows ({how})"


def _table_harmless(
    name: str,
    scope: Scope,
    live: Live | None,
    policy: Policy,
    category: FindingClass,
    *,
    full: Scope,
    sized: bool = True,
) -> str | None:
    """Why the object `name` makes the finding harmless, or None."""
    key = normalise_name(name) if not name.startswith(("function:", "type:")) else name
    origin = scope.resolve(key)
    label = key.split(":", 1)[-1]
    if key.startswith(("function:", "type:")):
        exists = live is not None and origin in live.objects
    else:
        facts = live.relations.get(origin) if live is not None else None
        exists = bool(facts and facts.exists)
    by = scope.created.get(key)
    if by and not exists:
        return f"{label} is created in this deploy ({by}): no running code uses it yet"
    if live is None:
        return None
    if not exists:
        return f"{label} does not exist in the target database: nothing running uses it (nothing to protect)"
    if category is FindingClass.INCOMPATIBLE or not sized or key.startswith(("function:", "type:")):
        return None
    facts = live.relations[origin]
    rows, how = facts.rows()
    if rows >= policy.small_table_rows:
        return None
    return (
        f"{facts.table or label} holds about {rows:.0f} rows ({how}), below small_table_rows = "
        f"{policy.small_table_rows}"
    )


def _type_change(raw: RawFinding, scope: Scope, live: Live, policy: Policy) -> Verdict | None:  # noqa: PLR0911
    """Each ALTER COLUMN TYPE judged from pg_cast and the column's type; None: judge it as any other finding."""
    table = scope.resolve(normalise_name(raw.tables[0]))
    facts = live.relations.get(table)
    if facts is None or not facts.exists or scope.created.get(normalise_name(raw.tables[0])):
        return None  # nothing to protect / created in the range: the generic judgement says so
    changes = _column_changes(raw)
    if not changes:
        return None
    free: list[str] = []
    for col, new in changes:
        column = live.columns.get((table, col, new))
        if column is None or not column.exists:
            return (
                _lowered(
                    f"{col} is not a column of {facts.table or table} yet (added in this deploy)"
                )
                if column is not None
                else None
            )
        if not new or column.new_base is None:
            return Verdict(
                FindingClass.INCOMPATIBLE,
                f"kept: {column.type_name} -> {new or 'USING ...'} cannot be "
                "judged from the catalogue: assume a rewrite",
            )
        narrowing = _narrowing(column, new)
        if not _no_rewrite(column, new):
            rows, how = facts.rows()
            what = (
                f"{column.type_name} -> {new} rewrites {facts.table or table} and its indexes under ACCESS "
                f"EXCLUSIVE: reads and writes wait for the whole rewrite (about {rows:.0f} rows, {how})"
            )
            if narrowing:
                return Verdict(
                    FindingClass.BLOCKING,
                    what + "; and it narrows the type: old code writing values "
                    "the new type cannot hold fails",
                )
            if rows < policy.small_table_rows:
                return _lowered(what + f", below small_table_rows = {policy.small_table_rows}")
            return Verdict(FindingClass.BLOCKING, what)
        free.append(f"{column.type_name} -> {new}")
    return _lowered(
        f"{', '.join(free)} is binary-coercible: no rewrite, old code unaffected (a brief ACCESS "
        "EXCLUSIVE lock, bounded by lock_timeout)"
    )


def _args(new: str) -> list[int]:
    m = re.search(r"\(\s*(\d+)(?:\s*,\s*(\d+))?\s*\)", new)
    return [int(g) for g in m.groups() if g is not None] if m else []


def _no_rewrite(column: ColumnFacts, new: str) -> bool:  # noqa: PLR0911
    """What PostgreSQL's ATColumnChangeRequiresRewrite decides for the common cases (conservative otherwise)."""
    args = _args(new)
    if new.endswith("[]"):
        return False
    if column.base == column.new_base:
        if not args:
            return column.typmod < 0 or column.base in ("varchar", "varbit", "numeric")
        if column.typmod < 0:
            return False
        if column.base in ("varchar", "varbit"):
            return args[0] >= column.typmod - 4
        if column.base == "numeric":
            precision, scale = ((column.typmod - 4) >> 16) & 0xFFFF, (column.typmod - 4) & 0xFFFF
            return (args[1] if len(args) > 1 else 0) == scale and args[0] >= precision
        return False
    return column.castmethod == "b" and not args


def _narrowing(column: ColumnFacts, new: str) -> bool:
    args = _args(new)
    if column.base != column.new_base or not args:
        return False
    return column.typmod < 0 or (
        column.base in ("varchar", "bpchar", "varbit") and args[0] < column.typmod - 4
    )


def _set_not_null(raw: RawFinding, scope: Scope, live: Live) -> Verdict | None:
    table = scope.resolve(normalise_name(raw.tables[0]))
    facts = live.relations.get(table)
    if facts is None or not facts.exists:
        return None
    cols = [normalise_name(m.group(1)) for m in _SET_NOT_NULL.finditer(raw.statement)]
    found = [live.columns.get((table, c, "")) for c in cols]
    if not cols or any(c is None or not c.exists for c in found):
        return None
    if all(c is not None and c.not_null for c in found):
        return _lowered(f"{', '.join(cols)} is already NOT NULL in the database: nothing to do")
    if live.server_version >= 120000 and all(
        c is not None and (c.not_null or c.not_null_check) for c in found
    ):
        return _lowered(
            f"a validated CHECK ({cols[0]} IS NOT NULL) exists on {facts.table or table}: PostgreSQL "
            "12+ skips the scan, SET NOT NULL takes only a brief ACCESS EXCLUSIVE lock"
        )
    return None

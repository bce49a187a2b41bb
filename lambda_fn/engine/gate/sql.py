"""Alembic's offline SQL as statements: which revision each belongs to, whether it runs in a transaction, and
the tables it names. Not a linter (squawk is): only the bookkeeping the findings and the judgement need.

Alembic writes every statement followed by `;` and a blank line, and marks each step with
`-- Running upgrade <parents> -> <revision>`; `autocommit_block()` shows as `COMMIT;` ... `BEGIN;`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKER = re.compile(r"^-- Running upgrade (.*) -> (\S+)[ \t]*$", re.MULTILINE)
TERMINATOR = re.compile(r";[ \t]*(?:\n[ \t]*\n|\n?\Z)")
CONTROL = re.compile(
    r"(?is)^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK)(\s+(WORK|TRANSACTION))?\s*$"
)

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
NAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"
_OPT = r"(?:(?:IF\s+(?:NOT\s+)?EXISTS|ONLY|CONCURRENTLY|UNIQUE|FULL|VERBOSE|\(\s*[^)]*\))\s+)*"
# the relation a statement acts on (first match wins), and the tables a foreign key adds
_TARGETS = [
    re.compile(rf"(?is)^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\b.*?\bON\s+(?:ONLY\s+)?({NAME})"),
    re.compile(rf"(?is)^\s*(?:ALTER|DROP)\s+TABLE\s+{_OPT}({NAME})"),
    re.compile(rf"(?is)^\s*(?:LOCK|TRUNCATE)\s+(?:TABLE\s+)?{_OPT}({NAME})"),
    re.compile(rf"(?is)^\s*(?:DROP|ALTER)\s+INDEX\s+{_OPT}({NAME})"),
    re.compile(rf"(?is)^\s*REINDEX\s+{_OPT}(?:TABLE|INDEX)\s+{_OPT}({NAME})"),
    re.compile(rf"(?is)^\s*(?:VACUUM|CLUSTER|ANALYZE)\s+{_OPT}({NAME})"),
    re.compile(rf"(?is)^\s*CREATE\s+(?:UNLOGGED\s+)?TABLE\s+{_OPT}({NAME})"),
    re.compile(rf"(?is)^\s*(?:UPDATE|DELETE\s+FROM|INSERT\s+INTO)\s+(?:ONLY\s+)?({NAME})"),
    re.compile(rf"(?is)^\s*COMMENT\s+ON\s+(?:TABLE|COLUMN)\s+({NAME})"),
]
_REFERENCES = re.compile(rf"(?is)\bREFERENCES\s+({NAME})")
_CREATE_TABLE = re.compile(
    rf"(?is)^\s*CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({NAME})"
)


@dataclass
class Statement:
    sql: str
    in_transaction: bool
    control: bool = False  # BEGIN / COMMIT


@dataclass
class Chunk:
    """One revision's statements, in order, transaction control included."""

    revision: str
    entered_in_transaction: bool = False
    statements: list[Statement] = field(default_factory=list)

    def normalised(self) -> list[Statement]:
        """Its statements with the transaction around them explicit: BEGIN first when it starts inside one,
        COMMIT last when it ends inside one, and empty BEGIN/COMMIT pairs gone (what the version-table
        statements leave behind)."""
        out = (
            [Statement("BEGIN", False, control=True)] if self.entered_in_transaction else []
        ) + self.statements
        changed = True
        while changed:
            changed = False
            for i in range(len(out) - 1):
                if _is(out[i], "BEGIN") and _is(out[i + 1], "COMMIT"):
                    del out[i : i + 2]
                    changed = True
                    break
            while out and _is(out[-1], "BEGIN"):
                out.pop()
                changed = True
        if out and not out[-1].control and out[-1].in_transaction:
            out.append(Statement("COMMIT", True, control=True))
        return out

    def text(self) -> tuple[str, list[Statement], list[int]]:
        """The chunk as a file of its own, its statements, and each statement's 0-based first line there."""
        statements = self.normalised()
        parts: list[str] = []
        lines: list[int] = []
        line = 0
        for stmt in statements:
            lines.append(line)
            parts.append(stmt.sql + ";")
            line += stmt.sql.count("\n") + 2
        return "\n\n".join(parts) + "\n", statements, lines


def _is(stmt: Statement, word: str) -> bool:
    if not stmt.control:
        return False
    head = stmt.sql.split()[0].upper()
    return (
        head == word
        or (word == "BEGIN" and head == "START")
        or (word == "COMMIT" and head in ("END", "ROLLBACK"))
    )


def split(output: str, version_table: str = "alembic_version") -> list[Chunk]:
    """The rendered range as one chunk per revision, version-table statements dropped."""
    version = re.compile(
        rf"(?is)^\s*(?:CREATE\s+TABLE|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:{_IDENT}\s*\.\s*)?"
        rf'"?{re.escape(version_table)}"?(?![\w$])'
    )
    chunks: list[Chunk] = []
    in_tx = False
    position = 0
    current: Chunk | None = None
    bounds = [(m.start(), m.end(), m.group(2)) for m in MARKER.finditer(output)]
    for start, end, revision in [*bounds, (len(output), len(output), None)]:
        for raw in _statements(output[position:start]):
            control = bool(CONTROL.match(raw))
            if control:
                in_tx = raw.split()[0].upper() in ("BEGIN", "START")
            if current is not None and not version.match(raw):
                current.statements.append(Statement(raw, in_tx, control))
        position = end
        if revision is not None:
            current = Chunk(revision, in_tx)
            chunks.append(current)
    return chunks


def _statements(text: str) -> list[str]:
    out = []
    for piece in TERMINATOR.split(text):
        lines = [
            line
            for line in piece.strip().splitlines()
            if not line.strip().startswith("--") or "*/" in line
        ]
        sql = "\n".join(lines).strip()
        if sql:
            out.append(sql)
    return out


def normalise_name(name: str) -> str:
    """`public.Users` -> `users`, `"Users"` -> `Users`, `app.t` -> `app.t`: how names are compared."""
    parts = [p.strip() for p in re.findall(_IDENT, name)]
    clean = [p[1:-1].replace('""', '"') if p.startswith('"') else p.lower() for p in parts]
    if len(clean) == 2 and clean[0] == "public":
        clean = clean[1:]
    return ".".join(clean)


def tables(sql: str) -> list[str]:
    """The relations a statement acts on, as written (first the one it changes, then referenced tables)."""
    found: list[str] = []
    for pattern in _TARGETS:
        if m := pattern.match(sql):
            found.append(m.group(1))
            break
    found += [m.group(1) for m in _REFERENCES.finditer(sql)]
    unique: dict[str, str] = {}
    for name in found:
        unique.setdefault(normalise_name(name), name)
    return list(unique.values())


_NEW = r"(?:IF\s+NOT\s+EXISTS\s+)?"
_CREATES = [
    (
        re.compile(
            rf"(?is)^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?{_NEW}({NAME})\s+ON\b"
        ),
        "",
    ),
    (
        re.compile(
            rf"(?is)^\s*CREATE\s+(?:TEMP\w*\s+|UNLOGGED\s+)?SEQUENCE\s+(?:IF\s+NOT\s+EXISTS\s+)?({NAME})"
        ),
        "",
    ),
    (
        re.compile(
            rf"(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+)?VIEW\s+{_NEW}({NAME})"
        ),
        "",
    ),
    (
        re.compile(rf"(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+({NAME})"),
        "function:",
    ),
    (re.compile(rf"(?is)^\s*CREATE\s+(?:TYPE|DOMAIN)\s+({NAME})"), "type:"),
]
_ADD_CONSTRAINT = re.compile(rf"(?is)\bADD\s+CONSTRAINT\s+({_IDENT})")
_RENAMES = [
    (
        re.compile(
            rf"(?is)^\s*ALTER\s+(?:TABLE|INDEX|SEQUENCE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+EXISTS\s+)?"
            rf"({NAME})\s+RENAME\s+TO\s+({_IDENT})"
        ),
        "",
    ),
    (
        re.compile(rf"(?is)^\s*ALTER\s+(?:TYPE|DOMAIN)\s+({NAME})\s+RENAME\s+TO\s+({_IDENT})"),
        "type:",
    ),
    (
        re.compile(
            rf"(?is)^\s*ALTER\s+(?:FUNCTION|PROCEDURE)\s+({NAME})\s*(?:\([^)]*\))?\s+RENAME\s+TO\s+({_IDENT})"
        ),
        "function:",
    ),
    (
        re.compile(
            rf"(?is)^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{NAME}\s+RENAME\s+CONSTRAINT\s+({_IDENT})"
            rf"\s+TO\s+({_IDENT})"
        ),
        "constraint:",
    ),
]
# what a statement drops or changes other than its table: a function, a type, a constraint
_OBJECTS = [
    (
        re.compile(
            rf"(?is)^\s*(?:DROP|ALTER)\s+(?:FUNCTION|PROCEDURE)\s+(?:IF\s+EXISTS\s+)?({NAME})"
        ),
        "function:",
    ),
    (
        re.compile(rf"(?is)^\s*(?:DROP|ALTER)\s+(?:TYPE|DOMAIN)\s+(?:IF\s+EXISTS\s+)?({NAME})"),
        "type:",
    ),
    (
        re.compile(
            rf"(?is)^\s*(?:DROP|ALTER)\s+(?:SEQUENCE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+EXISTS\s+)?({NAME})"
        ),
        "",
    ),
    (re.compile(rf"(?is)\bDROP\s+CONSTRAINT\s+(?:IF\s+EXISTS\s+)?({_IDENT})"), "constraint:"),
]


def created_objects(sql: str) -> list[str]:
    """The objects a statement creates, as judge keys: relations by normalised name (tables, indexes,
    sequences, views), `function:f`, `type:t`, `constraint:c`."""
    out = [t] if (t := created_table(sql)) else []
    for pattern, kind in _CREATES:
        if m := pattern.match(sql):
            out.append(kind + normalise_name(m.group(1)))
    out += ["constraint:" + normalise_name(m.group(1)) for m in _ADD_CONSTRAINT.finditer(sql)]
    return out


def renamed_objects(sql: str) -> list[tuple[str, str]]:
    """(old key, new key) for a RENAME; the new name keeps the old one's schema."""
    for pattern, kind in _RENAMES:
        if m := pattern.match(sql):
            old = normalise_name(m.group(1))
            schema = old.rsplit(".", 1)[0] + "." if "." in old else ""
            return [(kind + old, kind + schema + normalise_name(m.group(2)))]
    return []


def touched_objects(sql: str) -> list[str]:
    """The non-table objects a statement drops or changes, as judge keys (see created_objects)."""
    out: list[str] = []
    for pattern, kind in _OBJECTS:
        if m := pattern.search(sql) if kind == "constraint:" else pattern.match(sql):
            out.append(kind + normalise_name(m.group(1)))
    return out


def created_table(sql: str) -> str | None:
    m = _CREATE_TABLE.match(sql)
    return normalise_name(m.group(1)) if m else None


def collapse(sql: str, limit: int) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

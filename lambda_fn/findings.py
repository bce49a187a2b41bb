"""What the safety gate found in a pending revision: one `Finding` per hazard, judged and decided.

Shared vocabulary (no I/O): the gate (lambda_fn/engine/gate/) makes findings, `Result.findings` carries
them, and every caller renders them in its own form with `listing`.

Classes, in the order they matter to the tasks still running while the migration runs:
- incompatible: breaks the old code (drop/rename, NOT NULL without default, type change, ...);
- blocking: takes a lock that stops traffic, or rewrites/scans a big table;
- data: changes rows (a backfill) inside the deploy;
- advisory: worth knowing, refuses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FindingClass(StrEnum):
    INCOMPATIBLE = "incompatible"
    BLOCKING = "blocking"
    DATA = "data"
    ADVISORY = "advisory"


@dataclass(frozen=True)
class Finding:
    revision: str
    rule: str  # a squawk rule name, or hook:<name> for the hook's own checks
    category: FindingClass  # after the live judgement ("class" in JSON)
    statement: str  # the offending statement, whitespace collapsed, cut to STATEMENT_LIMIT
    table: str | None  # the table it concerns, when one is named
    fix: str  # one line: how to write the safe form
    message: str = ""  # what is wrong (squawk's message, or the hook's)
    refused: bool = False  # True: this finding refuses the run under the policy
    judged: str | None = (
        None  # why the class was lowered (table created in this deploy, small table)
    )
    acknowledged: str | None = None  # the reason the revision gives for accepting it
    rule_class: FindingClass | None = (
        None  # the rule's class before the live judgement, when lowered
    )
    path: str | None = None  # the revision file
    line: int | None = None  # 1-based line of the statement in the revision's rendered SQL
    reason: str | None = None  # what PostgreSQL will do, and why the class was kept or lowered

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "revision": self.revision,
            "rule": self.rule,
            "class": self.category.value,
            "refused": self.refused,
            "table": self.table,
            "statement": self.statement,
            "fix": self.fix,
            "message": self.message,
        }
        for key in ("judged", "acknowledged", "rule_class", "path", "line", "reason"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value.value if isinstance(value, FindingClass) else value
        return data

    def one_line(self) -> str:
        """`0006 require-concurrent-index-creation [blocking] on users: CREATE INDEX ... Fix: ...`"""
        on = f" on {self.table}" if self.table else ""
        text = f"{self.revision} {self.rule} [{self.category}]{on}: {self.statement}"
        if self.acknowledged is not None:
            return f"{text} Acknowledged: {self.acknowledged}"
        if self.judged:
            text += f" ({self.judged})"
        return f"{text} Fix: {self.fix}" if self.refused else text


STATEMENT_LIMIT = 240


def refused(findings: Sequence[Finding] | None) -> list[Finding]:
    return [f for f in findings or () if f.refused]


def counts(findings: Sequence[Finding] | None) -> str:
    """`2 refused, 1 acknowledged, 3 not refused` (only the non-zero parts); "" when there is nothing."""
    items = list(findings or ())
    parts = [
        (sum(f.refused for f in items), "refused"),
        (sum(f.acknowledged is not None for f in items), "acknowledged"),
        (sum(not f.refused and f.acknowledged is None for f in items), "not refused"),
    ]
    return ", ".join(f"{n} {what}" for n, what in parts if n)


def listing(findings: Sequence[Finding] | None, *, everything: bool = False) -> str:
    """One line per finding for a caller's text: refused first, then acknowledged (with the reason), then
    (with `everything`) the rest. A caller cuts the text to its limit from the end, so the order matters."""
    items = list(findings or ())
    chosen = [f for f in items if f.refused] + [f for f in items if f.acknowledged is not None]
    if everything:
        chosen += [f for f in items if not f.refused and f.acknowledged is None]
    return " ".join(f"({i}) {f.one_line()}" for i, f in enumerate(chosen, 1))


def counted(findings: Sequence[Finding] | None) -> str:
    """How many findings there are, for a text that may be cut before the listing ends."""
    items = list(findings or ())
    refused = sum(1 for f in items if f.refused)
    acknowledged = sum(1 for f in items if f.acknowledged is not None)
    return f"{len(items)} finding(s): {refused} refused, {acknowledged} acknowledged."

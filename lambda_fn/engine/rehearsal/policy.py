"""The rehearsal's policy, in the project's `[alembic_hook]` section (next to the safety gate's keys), and the
verdict it gives a measurement.

    [alembic_hook]
    # required: an upgrade without a fresh matching rehearsal is refused before any DDL;
    # used_when_present (default): a fresh matching rehearsal overrides the static guess; off: ignored
    rehearsal = used_when_present
    # the longest a lock that blocks reads or writes may be held on a table that has rows in the target
    rehearsal_max_lock_seconds = 3
    # the longest one revision may run (it runs inside one invocation)
    rehearsal_max_revision_seconds = 180
    # a rehearsal older than this is stale: ignored at upgrade
    rehearsal_max_age_hours = 24
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lambda_fn.contract import ErrorKind
from lambda_fn.engine.rehearsal.measure import RevisionMeasure, short
from lambda_fn.errors import HookError

SECTION = "alembic_hook"
KEYS = (
    "rehearsal",
    "rehearsal_max_lock_seconds",
    "rehearsal_max_revision_seconds",
    "rehearsal_max_age_hours",
)


class Use(StrEnum):
    REQUIRED = "required"
    WHEN_PRESENT = "used_when_present"
    OFF = "off"


_USE_WORDS = {
    "required": Use.REQUIRED,
    "used_when_present": Use.WHEN_PRESENT,
    "used when present": Use.WHEN_PRESENT,
    "when_present": Use.WHEN_PRESENT,
    "off": Use.OFF,
    "none": Use.OFF,
}


@dataclass(frozen=True)
class Violation:
    revision: str
    table: str | None
    statement: str
    text: str  # "LOCK TABLE orders: blocks writes on public.orders for 13.9 s on a copy ..., 2.0 s allowed"


@dataclass(frozen=True)
class RehearsalPolicy:
    use: Use = Use.WHEN_PRESENT
    max_lock_seconds: float = 3.0
    max_revision_seconds: float = 180.0
    max_age_hours: float = 24.0

    @classmethod
    def from_section(
        cls, section: Mapping[str, str] | None, where: str = "alembic.ini"
    ) -> RehearsalPolicy:
        values = {
            k.strip().lower(): v.strip()
            for k, v in (section or {}).items()
            if k.strip().lower() in KEYS
        }
        use = cls.use
        if "rehearsal" in values:
            word = " ".join(values["rehearsal"].lower().split())
            if word not in _USE_WORDS:
                raise _bad(
                    where,
                    f"rehearsal = {values['rehearsal']!r}: use required, used_when_present or off",
                )
            use = _USE_WORDS[word]
        numbers = {key: _seconds(where, key, values[key]) for key in KEYS[1:] if key in values}
        return cls(
            use,
            numbers.get("rehearsal_max_lock_seconds", cls.max_lock_seconds),
            numbers.get("rehearsal_max_revision_seconds", cls.max_revision_seconds),
            numbers.get("rehearsal_max_age_hours", cls.max_age_hours),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "rehearsal": self.use.value,
            "max_lock_seconds": self.max_lock_seconds,
            "max_revision_seconds": self.max_revision_seconds,
            "max_age_hours": self.max_age_hours,
        }

    def violations(
        self, m: RevisionMeasure, where: str = "on a copy of this database"
    ) -> list[Violation]:
        """What in this measurement is beyond the policy (empty: within it)."""
        out: list[Violation] = []
        allowed = f"{self.max_lock_seconds:g} s allowed"
        for lock in m.blocking():
            if lock.rows and lock.held_s > self.max_lock_seconds:
                stmt = m.statement(lock.statement)
                sql = short(stmt.sql, 60) if stmt else "a statement"
                out.append(
                    Violation(
                        m.revision,
                        lock.table,
                        sql,
                        f"{sql}: blocks {lock.blocks} on {lock.table} for "
                        f"{lock.held_s:.1f} s {where}, {allowed}",
                    )
                )
        for rows in m.row_locks:
            if rows.held_s > self.max_lock_seconds:
                stmt = m.statement(rows.statement)
                sql = short(stmt.sql, 60) if stmt else "an UPDATE/DELETE"
                out.append(
                    Violation(
                        m.revision,
                        rows.table,
                        sql,
                        f"{sql}: locks {rows.rows} row(s) of {rows.table} "
                        f"against writes for {rows.held_s:.1f} s {where}, {allowed}",
                    )
                )
        if m.duration_s > self.max_revision_seconds:
            out.append(
                Violation(
                    m.revision,
                    None,
                    "",
                    f"revision {m.revision} ran {m.duration_s:.1f} s {where}, "
                    f"{self.max_revision_seconds:g} s allowed for one revision",
                )
            )
        return out


def _seconds(where: str, key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise _bad(where, f"{key} = {raw!r} is not a non-negative number")
    return value


def _bad(where: str, what: str) -> HookError:
    return HookError(
        ErrorKind.CONFIGURATION, f"[{SECTION}] in {where}: {what}. See docs/rehearsal.md."
    )

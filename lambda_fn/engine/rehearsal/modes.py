"""What each table lock mode blocks for other sessions (PostgreSQL's conflict table, for people)."""

from __future__ import annotations

# pg_locks.mode -> (the SQL name, blocks writes, blocks reads)
MODES: dict[str, tuple[str, bool, bool]] = {
    "AccessShareLock": ("ACCESS SHARE", False, False),
    "RowShareLock": ("ROW SHARE", False, False),
    "RowExclusiveLock": ("ROW EXCLUSIVE", False, False),
    "ShareUpdateExclusiveLock": ("SHARE UPDATE EXCLUSIVE", False, False),
    "ShareLock": ("SHARE", True, False),
    "ShareRowExclusiveLock": ("SHARE ROW EXCLUSIVE", True, False),
    "ExclusiveLock": ("EXCLUSIVE", True, False),  # plain reads still run
    "AccessExclusiveLock": ("ACCESS EXCLUSIVE", True, True),
}
STRENGTH = list(MODES)  # weakest first


def sql_name(mode: str) -> str:
    return MODES.get(mode, (mode, False, False))[0]


def blocks(mode: str) -> str | None:
    """ "reads and writes", "writes", or None when the mode blocks neither."""
    _, writes, reads = MODES.get(mode, (mode, True, True))  # an unknown mode: assume the worst
    if reads:
        return "reads and writes"
    return "writes" if writes else None


def stronger(a: str, b: str) -> bool:
    return STRENGTH.index(a) > STRENGTH.index(b) if a in MODES and b in MODES else a not in MODES

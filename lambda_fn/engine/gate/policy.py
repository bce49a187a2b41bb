"""The gate's policy: the `[alembic_hook]` section of the project's alembic.ini, the one place read by the CLI,
CI and the Lambda alike (the ini ships with the migrations in the asset).

    [alembic_hook]
    # classes of finding that refuse a run (default: incompatible, blocking); "none" reports only
    refuse = incompatible, blocking
    # a blocking finding on a table whose estimated row count (pg_class.reltuples) is below this is advisory
    small_table_rows = 10000
    # rules never reported (squawk names or hook:<name>); `enable` reports rules off by default (style)
    disable =
    enable =
    # the oldest PostgreSQL the migrations run on: what squawk lints for
    pg_version = 14.0
    # acknowledgments for revisions the team cannot edit (a third-party package's): one a line,
    # "<revision id> <rule>: <why it is safe>"
    acknowledge =
        1f2e3d4c5b6a ban-drop-column: the package's column, unread by our code (PR 88)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lambda_fn.contract import ErrorKind
from lambda_fn.engine.gate.rules import DEFAULT_DISABLED
from lambda_fn.engine.rehearsal.policy import KEYS as REHEARSAL_KEYS
from lambda_fn.errors import HookError
from lambda_fn.findings import FindingClass

SECTION = "alembic_hook"
# autocommit is the engine's (engine/env_py.py autocommit_of); the rehearsal keys are rehearsal/policy.py's
KEYS = (
    "refuse",
    "small_table_rows",
    "disable",
    "enable",
    "pg_version",
    "acknowledge",
    "autocommit",
    *REHEARSAL_KEYS,
)
_ACK_LINE = re.compile(r"^(\S+)\s+(\S+?)\s*:\s*(\S.*)$")


@dataclass(frozen=True)
class Policy:
    refuse: frozenset[FindingClass] = frozenset({FindingClass.INCOMPATIBLE, FindingClass.BLOCKING})
    small_table_rows: int = 10_000
    disabled: frozenset[str] = DEFAULT_DISABLED
    pg_version: str = "14.0"
    # {(revision, rule): reason} from `acknowledge =`
    acknowledged: tuple[tuple[str, str, str], ...] = ()

    def acknowledgments_for(self, revision: str) -> dict[str, str]:
        return {rule: reason for rev, rule, reason in self.acknowledged if rev == revision}

    @classmethod
    def from_section(  # noqa: PLR0912 - one branch a key
        cls,
        section: Mapping[str, str] | None,
        where: str = "alembic.ini",
    ) -> Policy:
        values = {k.strip().lower(): v for k, v in (section or {}).items() if k not in ("here",)}
        unknown = sorted(set(values) - set(KEYS))
        if unknown:  # a typo must not silently weaken the gate
            raise _bad(where, f"unknown key(s) {', '.join(unknown)}; it takes {', '.join(KEYS)}")
        policy = cls()
        refuse = policy.refuse
        if "refuse" in values:
            words = _words(values["refuse"])
            if words == ["none"]:
                refuse = frozenset()
            else:
                try:
                    refuse = frozenset(FindingClass(w) for w in words)
                except ValueError:
                    raise _bad(
                        where,
                        f"refuse = {values['refuse']!r}: use classes among "
                        f"{', '.join(c.value for c in FindingClass)}, or none",
                    ) from None
        rows = policy.small_table_rows
        if "small_table_rows" in values:
            try:
                rows = int(values["small_table_rows"].strip().replace("_", ""))
            except ValueError:
                rows = -1
            if rows < 0:
                raise _bad(
                    where, f"small_table_rows = {values['small_table_rows']!r} is not a row count"
                )
        disabled = (DEFAULT_DISABLED - set(_words(values.get("enable", "")))) | set(
            _words(values.get("disable", ""))
        )
        pg = values.get("pg_version", policy.pg_version).strip()
        if not re.fullmatch(r"\d+(\.\d+)?", pg):
            raise _bad(where, f"pg_version = {pg!r}: write a version such as 14.0")
        if "." not in pg:
            pg += ".0"  # squawk reads "11" as older than "11.0"
        acks: list[tuple[str, str, str]] = []
        for line in values.get("acknowledge", "").splitlines():
            if not line.strip() or line.strip().startswith("#"):
                continue
            m = _ACK_LINE.match(line.strip())
            if not m:
                raise _bad(
                    where,
                    f"acknowledge line {line.strip()!r}: write '<revision id> <rule>: <why it is safe>'",
                )
            acks.append((m.group(1), m.group(2), " ".join(m.group(3).split())))
        return cls(
            refuse=refuse,
            small_table_rows=rows,
            disabled=frozenset(disabled),
            pg_version=pg,
            acknowledged=tuple(acks),
        )


def _words(raw: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", raw.strip().lower()) if w]


def _bad(where: str, what: str) -> HookError:
    return HookError(
        ErrorKind.CONFIGURATION, f"[{SECTION}] in {where}: {what}. See docs/safety-gate.md."
    )

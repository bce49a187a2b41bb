"""The CLI's readable output of a result object: the headline, then what changed, then what is left."""

from __future__ import annotations

import sys
from typing import Any

from lambda_fn.result import StepEvent


def progress(event: StepEvent) -> None:
    """One line per revision as it starts and finishes, on stderr: stdout stays the result (`--json` too)."""
    counter = f"[{event.index}/{event.total}]"
    if event.duration_ms is None:
        line = f"{counter} {event.direction} {event.revision} {event.description}".rstrip() + " ..."
    else:
        line = f"{counter} {event.direction} {event.revision} done in {event.duration_ms:.0f} ms"
    print(line, file=sys.stderr, flush=True)


def render(r: dict[str, Any]) -> str:
    """Readable output: the headline, then what changed, then what is left."""
    lines = [f"{r.get('command', '?')}: {r.get('status')} - {r.get('message', '')}"]
    if r.get("database"):
        lines.append(f"  database : {r['database']}")
    if r.get("command") in ("status", "check", "current", "upgrade", "downgrade", "stamp"):
        lines.append(f"  current  : {r.get('to_revision') or '(none)'}")
        lines.append(f"  head(s)  : {', '.join(r.get('heads') or []) or '(none)'}")
    for run in r.get("applied") or []:
        lines.append(f"  {run['direction']:9} {run['revision']}  {run['duration_ms']:.0f} ms  {run['description']}")
    if r.get("pending"):
        lines.append(f"  pending  : {', '.join(r['pending'])}")
    if env := r.get("env"):
        schema = f"{env['version_table_schema']}." if env.get("version_table_schema") else ""
        lines.append(f"  env.py   : {env['connection']}")
        lines.append(f"  versions : {schema}{env['version_table']}")
    for h in r.get("history") or []:
        marks = ("(head) " if h["is_head"] else "") + ("(current) " if h["is_current"] else "")
        down = ",".join(h["down_revision"]) or "<base>"
        lines.append(f"  {down} -> {h['revision']} {marks}{'' if h['applied'] else '[pending] '}{h['description']}")
    if r.get("sql"):
        lines.append(r["sql"].rstrip())
    if r.get("lock_wait_ms"):
        lines.append(f"  lock wait: {r['lock_wait_ms']:.0f} ms")
    lines.append(f"  took     : {r.get('duration_ms', 0):.0f} ms")
    if r.get("error"):
        e = r["error"]
        lines.append(f"  error    : [{e['kind']}]" + (f" at revision {e['revision']}" if e.get("revision") else ""))
    return "\n".join(lines)

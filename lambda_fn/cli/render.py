"""The CLI's readable output of a result object: the headline, then what changed, then what is left."""

from __future__ import annotations

import sys
from typing import Any

from lambda_fn.contract import ResultWire, failed
from lambda_fn.request import Command
from lambda_fn.result import StepEvent

# the commands whose answer says where the database is and where its heads are
_SITUATED = frozenset(
    {
        Command.STATUS,
        Command.CHECK,
        Command.CURRENT,
        Command.UPGRADE,
        Command.DOWNGRADE,
        Command.STAMP,
    }
)


def progress(event: StepEvent) -> None:
    """One line per revision as it starts and finishes, on stderr: stdout stays the result (`--json` too)."""
    counter = f"[{event.index}/{event.total}]"
    if event.duration_ms is None:
        line = f"{counter} {event.direction} {event.revision} {event.description}".rstrip() + " ..."
    else:
        line = f"{counter} {event.direction} {event.revision} done in {event.duration_ms:.0f} ms"
    print(line, file=sys.stderr, flush=True)


def history_lines(history: list[dict[str, Any]]) -> list[str]:
    lines = []
    for h in history:
        marks = ("(head) " if h["is_head"] else "") + ("(current) " if h["is_current"] else "")
        down = ",".join(h["down_revision"]) or "<base>"
        ran = (
            f" [ran {h['ledger']['applied_at']}, run {h['ledger']['run_id']}]"
            if h.get("ledger")
            else ""
        )
        lines.append(
            f"  {down} -> {h['revision']} {marks}{'' if h['applied'] else '[pending] '}{h['description']}"
            f"{ran}"
        )
    return lines


def log_lines(log: list[dict[str, Any]]) -> list[str]:
    """The ledger: a line per run, then its revisions."""
    lines = []
    for run in log:
        ref = ", ".join(f"{k} {v}" for k, v in (run.get("caller_reference") or {}).items() if v)
        lines.append(
            f"  run {run['id']}: {run['command']} {run['status']} by {run['caller']}"
            f"{f' ({ref})' if ref else ''}, {run['started_at']} -> {run['finished_at'] or '?'}, "
            f"{run['from_revision'] or 'base'} -> {run['to_revision'] or 'base'}"
        )
        if run.get("error_kind"):
            lines.append(f"      [{run['error_kind']}] {str(run['error_message'] or '')[:200]}")
        lines += [
            f"      {step['direction']:9} {step['revision']}  sha256 {str(step['sha256'] or '-')[:12]}"
            f"{'' if step['verified'] else ' (baseline, unverified)'}"
            for step in run.get("revisions") or []
        ]
    return lines


def render(r: ResultWire) -> str:
    """Readable output: the headline, then what changed, then what is left."""
    lines = [f"{r.get('command', '?')}: {r.get('status')} - {r.get('message', '')}"]
    if r.get("database"):
        lines.append(f"  database : {r['database']}")
    if r.get("command") in _SITUATED:
        lines.append(f"  current  : {r.get('to_revision') or '(none)'}")
        lines.append(f"  head(s)  : {', '.join(r.get('heads') or []) or '(none)'}")
    for run in r.get("applied") or []:
        lines.append(
            f"  {run['direction']:9} {run['revision']}  {run['duration_ms']:.0f} ms  {run['description']}"
        )
    if r.get("pending"):
        lines.append(f"  pending  : {', '.join(r['pending'])}")
    if env := r.get("env"):
        schema = f"{env['version_table_schema']}." if env.get("version_table_schema") else ""
        lines.append(f"  env.py   : {env['connection']}")
        lines.append(f"  versions : {schema}{env['version_table']}")
    lines += history_lines(r.get("history") or [])
    lines += log_lines(r.get("log") or [])
    if r.get("sql"):
        lines.append(r["sql"].rstrip())
    if r.get("findings"):
        lines += findings_lines(r["findings"])
    if r.get("lint_skipped"):
        lines.append(f"  SAFETY GATE SKIPPED: {r['lint_skipped']}")
    if r.get("lock_wait_ms"):
        lines.append(f"  lock wait: {r['lock_wait_ms']:.0f} ms")
    if r.get("run_id") is not None:
        lines.append(f"  ledger   : run {r['run_id']} (alembic-hook log)")
    lines.append(f"  took     : {r.get('duration_ms', 0):.0f} ms")
    if r.get("error"):
        e = r["error"]
        lines.append(
            f"  error    : [{e['kind']}]"
            + (f" at revision {e['revision']}" if e.get("revision") else "")
        )
    return "\n".join(lines)


def findings_lines(findings: list[dict[str, Any]]) -> list[str]:
    """Refused first (with the fix), then acknowledged (with the reason), then the rest."""

    def order(f: dict[str, Any]) -> int:
        return 0 if f.get("refused") else 1 if f.get("acknowledged") is not None else 2

    lines = [f"  findings : {len(findings)}"]
    for f in sorted(findings, key=order):
        mark = (
            "REFUSED "
            if f.get("refused")
            else "ack     "
            if f.get("acknowledged") is not None
            else "advisory"
        )
        on = f" on {f['table']}" if f.get("table") else ""
        lines.append(f"  {mark} {f['revision']} {f['rule']} [{f['class']}]{on}")
        if f.get("statement"):
            lines.append(f"             {f['statement']}")
        if f.get("message") and not f.get("statement"):
            lines.append(f"             {f['message']}")
        if f.get("judged"):
            lines.append(f"             lowered from {f.get('rule_class')}: {f['judged']}")
        if f.get("acknowledged") is not None:
            lines.append(f"             acknowledged: {f['acknowledged']}")
        elif f.get("refused"):
            lines.append(f"             fix: {f['fix']}")
    return lines


def github_annotations(r: ResultWire) -> str:
    """GitHub Actions workflow commands, one per finding (error: refused; warning: not refused; notice:
    acknowledged), then the headline. Files relative to the working directory (the checkout)."""
    import os

    def esc(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return esc(text).replace(":", "%3A").replace(",", "%2C")

    out = []
    for f in r.get("findings") or []:
        level = (
            "error"
            if f.get("refused")
            else "notice"
            if f.get("acknowledged") is not None
            else "warning"
        )
        where = ""
        if f.get("path"):
            path = os.path.relpath(f["path"]) if os.path.isabs(f["path"]) else f["path"]
            where = f"file={prop(path)},"
        title = prop(
            f"{f['rule']} [{f['class']}]" + (f" on {f['table']}" if f.get("table") else "")
        )
        text = f.get("statement") or f.get("message") or ""
        if f.get("acknowledged") is not None:
            text += f" Acknowledged: {f['acknowledged']}"
        elif f.get("judged"):
            text += f" ({f['judged']})"
        if f.get("refused"):
            text += f" Fix: {f['fix']}"
        out.append(f"::{level} {where}title={title}::{esc(text)}")
    headline = f"{r.get('command', '?')}: {r.get('status')} - {r.get('message', '')}"
    out.append(f"::error title=alembic-hook::{esc(headline)}" if failed(r) else headline)
    return "\n".join(out)

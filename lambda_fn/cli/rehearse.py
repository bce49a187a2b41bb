"""`alembic-hook --database-url TARGET rehearse --on COPY_URL [REV]`: the target's pending revisions run and
measured on a copy; a table per revision (text), the result object (`--json`), or Markdown for a GitHub step
summary or pull request comment (`--format markdown`). Exit 0 within the policy, 1 beyond it or on failure."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping

from lambda_fn.contract import RehearsalWire, ResultWire, as_result, failed
from lambda_fn.engine.rehearsal.modes import sql_name

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    copy = p.add_mutually_exclusive_group()
    copy.add_argument("--on", metavar="COPY_URL", help="the copy's PostgreSQL URL")
    copy.add_argument("--on-secret-id", metavar="ID", help="a secret holding the copy's credentials")
    p.add_argument("--copy-kind", default=None, help="what the copy is (clone, restore, template), "
                                                     "for the report")


def rehearse_cli(ns: argparse.Namespace, env: Mapping[str, str]) -> int:
    import sys

    from lambda_fn.engine.execute import execute
    from lambda_fn.engine.ledger import cli_origin
    from lambda_fn.errors import HookError
    from lambda_fn.request import Command, CopyDatabase, Request
    from lambda_fn.settings import Settings

    if not (ns.on or ns.on_secret_id):
        print("rehearse takes --on COPY_URL (or --on-secret-id ID) and at most one revision (default head)",
              file=sys.stderr)
        return EXIT_USAGE
    copy = CopyDatabase(url=ns.on, secret_arn=ns.on_secret_id, kind=ns.copy_kind)
    try:
        settings = Settings.from_env(env)
        request = Request(Command.REHEARSE, ns.revision, origin=cli_origin(), copy=copy)
    except HookError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    reader = None
    if settings.secret_id or ns.on_secret_id:
        from lambda_fn.aws.secrets import powertools_secret_reader

        reader = powertools_secret_reader()
    from lambda_fn.cli.stdout import to_stderr

    with to_stderr():  # whatever the project prints while it runs is not the result
        result = as_result(execute(request, settings, read_secret=reader).to_dict())
    if ns.json or getattr(ns, "format", None) == "json":
        print(json.dumps(result, indent=2, default=str))
    elif getattr(ns, "format", None) == "markdown":
        print(markdown(result))
    else:
        print(text(result))
    return EXIT_FAILED if failed(result) else EXIT_OK


# --- rendering ------------------------------------------------------------------------------------------

def _rows(rehearsal: RehearsalWire) -> list[list[str]]:
    rows = []
    for m in rehearsal.get("revisions", []):
        locks = [lk for lk in m["locks"] if not lk["created"] and _blocks(lk["mode"])]
        locks.sort(key=lambda lk: -lk["held_s"])
        lock_text = "; ".join(f"{sql_name(lk['mode'])} {lk['table']} {lk['held_s']:.2f} s "
                              f"(blocks {_blocks(lk['mode'])})" for lk in locks[:3]) or "none"
        if len(locks) > 3:
            lock_text += f"; +{len(locks) - 3} more"
        row_text = "; ".join(f"{r['rows']} row(s) of {r['table']} {r['held_s']:.2f} s" for r in m["row_locks"]) or "-"
        rows.append([m["revision"], f"{m['duration_s']:.2f} s", lock_text, ", ".join(m["rewritten"]) or "-",
                     row_text, _size(m["growth_bytes"])])
    return rows


HEADER = ["revision", "time", "locks that block", "rewrites", "rows locked", "growth"]


def text(result: ResultWire) -> str:
    lines = [f"{result.get('status')}: {result.get('message', '')}"]
    rehearsal = result.get("rehearsal")
    if rehearsal and rehearsal.get("revisions"):
        rows = [HEADER, *_rows(rehearsal)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
        for r in rows:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        for m in rehearsal["revisions"]:
            slow = sorted(m["statements"], key=lambda s: -s["duration_s"])[:3]
            lines.append(f"  {m['revision']} slowest: " + "; ".join(f"{s['duration_s']:.3f} s {s['sql'][:70]}"
                                                                     for s in slow))
        lines.append(f"  on {rehearsal['copy']} ({rehearsal['kind']}); policy {rehearsal['policy']}")
    return "\n".join(lines)


def markdown(result: ResultWire) -> str:
    rehearsal: RehearsalWire = result.get("rehearsal") or {}
    ok = not failed(result)
    head = "✅ within policy" if ok else "❌ refused"
    lines = [f"### Migration rehearsal: {head}", "", _escape(str(result.get("message", ""))), ""]
    if rehearsal.get("revisions"):
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in _rows(rehearsal)]
        lines.append("")
    for v in rehearsal.get("violations", []):
        lines.append(f"- {_escape(v)}")
    if rehearsal.get("copy"):
        pol = rehearsal.get("policy", {})
        lines.append(f"\n<sub>On {_escape(rehearsal['copy'])} ({rehearsal.get('kind')}); blocking locks at most "
                     f"{pol.get('max_lock_seconds')} s, a revision at most {pol.get('max_revision_seconds')} s. "
                     "A fresh restore loads blocks lazily: its timings overstate production's.</sub>")
    return "\n".join(lines)


def _blocks(mode: str) -> str | None:
    from lambda_fn.engine.rehearsal.modes import blocks

    return blocks(mode)


def _size(n: int) -> str:
    sign = "+" if n >= 0 else "-"
    n = abs(n)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{sign}{n}"


def _escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")

"""`alembic-hook --database-url TARGET rehearse --on COPY_URL [REV]`: the target's pending revisions run and
measured on a copy; a table per revision (text), the result object (`--json`), or Markdown for a GitHub step
summary or pull request comment (`--format markdown`). Exit 0 within the policy, 1 beyond it or on failure."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from lambda_fn.contract import RehearsalWire, ResultWire, as_result, failed
from lambda_fn.engine.rehearsal.modes import sql_name

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    copy = p.add_mutually_exclusive_group()
    copy.add_argument("--on", metavar="COPY_URL", help="the copy's PostgreSQL URL")
    copy.add_argument(
        "--on-secret-id", metavar="ID", help="a secret holding the copy's credentials"
    )
    p.add_argument(
        "--copy-kind",
        default=None,
        help="what the copy is (clone, restore, template), for the report",
    )


def add_remote_arguments(p: argparse.ArgumentParser) -> None:
    """`invoke --function NAME rehearse ...`: the copy, sent as the direct event's "copy" object. Never a
    password: the function logs in with a secret (the copy's, or its own: a clone keeps the source's users)."""
    p.add_argument(
        "--on",
        metavar="COPY_URL",
        default=None,
        help="with rehearse: the copy as a URL WITHOUT a password (its host, port and database are sent)",
    )
    p.add_argument(
        "--on-secret-id",
        metavar="ARN",
        default=None,
        help="with rehearse: the secret the function logs in to the copy with (default: its own)",
    )
    p.add_argument("--on-host", default=None, help="with rehearse: the copy's endpoint")
    p.add_argument("--on-port", type=int, default=None, help="with rehearse: the copy's port")
    p.add_argument("--on-name", default=None, help="with rehearse: the copy's database name")
    p.add_argument(
        "--copy-kind",
        default=None,
        help="with rehearse: what the copy is (clone, restore, template)",
    )


REMOTE_FLAGS = ("on", "on_secret_id", "on_host", "on_port", "on_name", "copy_kind")


def remote_copy(ns: argparse.Namespace, command: str) -> dict[str, Any] | str | None:
    """The direct event's "copy" ({"host", "port", "name", "secret_arn", "kind"}, see lambda_fn/sources/direct.py)
    for `invoke ... rehearse`, None for another command, or why these arguments cannot be sent."""
    if command != "rehearse":
        if any(getattr(ns, flag, None) is not None for flag in REMOTE_FLAGS):
            return "--on, --on-secret-id, --on-host, --on-port, --on-name and --copy-kind go with rehearse"
        return None
    copy = _endpoint(ns.on) if ns.on else {}
    if isinstance(copy, str):
        return copy
    for key, flag in (
        ("host", ns.on_host),
        ("port", ns.on_port),
        ("name", ns.on_name),
        ("secret_arn", ns.on_secret_id),
        ("kind", ns.copy_kind),
    ):
        if flag is not None:
            copy[key] = flag
    if not (copy.get("host") or copy.get("secret_arn")):
        return (
            "invoke ... rehearse needs the copy: --on-host HOST [--on-port PORT] [--on-name DB] (or --on "
            "postgresql://HOST:PORT/DB), and/or --on-secret-id ARN of a secret that holds its host"
        )
    return {key: value for key, value in copy.items() if value is not None}


def _endpoint(raw: str) -> dict[str, Any] | str:
    """host, port and database of a copy's URL; refused when it holds a password (it would travel in the
    payload). Never echoes the URL."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        url = urlsplit(raw.strip())
        port = url.port
    except ValueError:
        return "--on is not a valid URL; expected postgresql://HOST:PORT/DB (no password)"
    if url.password is not None or "password" in dict(parse_qsl(url.query)):
        return (
            "--on holds a password: invoke would put it in the function's payload (and so in CloudTrail and "
            "the function's logs). Give the copy's endpoint without it (--on postgresql://HOST:PORT/DB, or "
            "--on-host/--on-port/--on-name) and its login as a secret (--on-secret-id ARN; default: the "
            "function's own secret, which a clone or a restored snapshot accepts). Nothing was sent."
        )
    if not url.hostname:
        return "--on needs the copy's host: postgresql://HOST:PORT/DB (no password)"
    return {"host": url.hostname, "port": port, "name": unquote(url.path.lstrip("/")) or None}


def rehearse_cli(ns: argparse.Namespace, env: Mapping[str, str]) -> int:
    import sys

    from lambda_fn.engine.execute import execute
    from lambda_fn.engine.ledger import cli_origin
    from lambda_fn.errors import HookError
    from lambda_fn.request import Command, CopyDatabase, Request
    from lambda_fn.settings import Settings

    if not (ns.on or ns.on_secret_id):
        print(
            "rehearse takes --on COPY_URL (or --on-secret-id ID) and at most one revision (default head)",
            file=sys.stderr,
        )
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
        lock_text = (
            "; ".join(
                f"{sql_name(lk['mode'])} {lk['table']} {lk['held_s']:.2f} s "
                f"(blocks {_blocks(lk['mode'])})"
                for lk in locks[:3]
            )
            or "none"
        )
        if len(locks) > 3:
            lock_text += f"; +{len(locks) - 3} more"
        row_text = (
            "; ".join(
                f"{r['rows']} row(s) of {r['table']} {r['held_s']:.2f} s" for r in m["row_locks"]
            )
            or "-"
        )
        rows.append(
            [
                m["revision"],
                f"{m['duration_s']:.2f} s",
                lock_text,
                ", ".join(m["rewritten"]) or "-",
                row_text,
                _size(m["growth_bytes"]),
            ]
        )
    return rows


HEADER = ["revision", "time", "locks that block", "rewrites", "rows locked", "growth"]


def text(result: ResultWire) -> str:
    lines = [f"{result.get('status')}: {result.get('message', '')}"]
    rehearsal = result.get("rehearsal")
    if rehearsal and rehearsal.get("revisions"):
        rows = [HEADER, *_rows(rehearsal)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
        for r in rows:
            lines.append(
                "  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            )
        for m in rehearsal["revisions"]:
            slow = sorted(m["statements"], key=lambda s: -s["duration_s"])[:3]
            lines.append(
                f"  {m['revision']} slowest: "
                + "; ".join(f"{s['duration_s']:.3f} s {s['sql'][:70]}" for s in slow)
            )
        lines.append(
            f"  on {rehearsal['copy']} ({rehearsal['kind']}); policy {rehearsal['policy']}"
        )
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
        lines.append(
            f"\n<sub>On {_escape(rehearsal['copy'])} ({rehearsal.get('kind')}); blocking locks at most "
            f"{pol.get('max_lock_seconds')} s, a revision at most {pol.get('max_revision_seconds')} s. "
            "A fresh restore loads blocks lazily: its timings overstate production's.</sub>"
        )
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

"""A result object cut to fit a caller's channel (issue 18, point 8).

Sixty pending revisions with two findings each make a result of 64 KB; Step Functions carries at most 32,768
characters of a function error's cause (and the cause is the Lambda error JSON around our result JSON), and
a state's output at most 256 KiB. So a result is fitted before it leaves: the findings give way first (the
refused ones are kept longest, then the acknowledged, then the rest), with their count; then the long lists
(applied, pending, history, log, SQL); then the message. The status, the error's kind and revision, and the
revisions' from/to never go.
"""

from __future__ import annotations

import json
from typing import Any

# What a field that was cut says about itself
OMITTED = "omitted"


def encoded_length(data: Any) -> int:
    return len(json.dumps(data, default=str, separators=(",", ":")))


def fit_result(data: dict[str, Any], limit: int) -> dict[str, Any]:
    """`data` (a Result.to_dict()) when it encodes within `limit` characters; otherwise a copy cut to fit,
    with `truncated` naming what was cut."""
    if encoded_length(data) <= limit:
        return data
    out = dict(data)
    cut: dict[str, Any] = {}
    out["truncated"] = cut
    findings = list(out.get("findings") or [])
    if findings:
        ordered = _by_importance(findings)
        keep = _longest_prefix(out, "findings", ordered, limit)
        out["findings"] = ordered[:keep]
        cut["findings"] = {
            "total": len(findings),
            "kept": keep,
            "refused": sum(1 for f in findings if f.get("refused")),
            OMITTED: len(findings) - keep,
        }
    for key in ("history", "log", "applied", "pending"):
        if encoded_length(out) <= limit:
            return out
        items = out.get(key)
        if isinstance(items, list) and items:
            keep = _longest_prefix(out, key, items, limit)
            out[key] = items[:keep]
            cut[key] = {"total": len(items), "kept": keep, OMITTED: len(items) - keep}
    for key in ("sql", "env"):
        if encoded_length(out) > limit and out.get(key) is not None:
            out[key] = None
            cut[key] = OMITTED
    if encoded_length(out) > limit:
        cut["message"] = "cut"  # before the cut: the note takes room too
        _cut_messages(out, limit)
    return out


def _by_importance(findings: list[Any]) -> list[Any]:
    def rank(f: Any) -> int:
        if not isinstance(f, dict):
            return 3
        return 0 if f.get("refused") else 1 if f.get("acknowledged") is not None else 2

    return sorted(findings, key=rank)  # stable: the gate's order within each rank


def _longest_prefix(out: dict[str, Any], key: str, items: list[Any], limit: int) -> int:
    low, high = 0, len(items)
    while low < high:
        mid = (low + high + 1) // 2
        if encoded_length({**out, key: items[:mid]}) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def _cut_messages(out: dict[str, Any], limit: int) -> None:
    """The message and the error's message, cut from the end by the same amount until the rest fits."""
    error = out.get("error")
    message = str(out.get("message") or "")
    error_message = str(error.get("message") or "") if isinstance(error, dict) else ""
    over = encoded_length(out) - limit
    while over > 0 and (message or error_message):
        share = over // 2 + 8
        message = message[: max(0, len(message) - share)]
        error_message = error_message[: max(0, len(error_message) - share)]
        out["message"] = message + "..."
        if isinstance(error, dict):
            out["error"] = {**error, "message": error_message + "..."}
        over = encoded_length(out) - limit

"""Timing helpers: medians of several runs, ratios against a baseline measured in the same run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None) -> float:
    samples = []
    for _ in range(runs):
        if setup:
            setup()
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def table(title: str, rows: list[tuple[str, float, float | None]], baseline_label: str) -> str:
    """rows: (what, median ms, baseline median ms or None for the baseline row itself)."""
    out = [f"\n### {title}\n", f"| what | median ms | vs {baseline_label} |", "|---|---:|---:|"]
    for what, ms, base in rows:
        ratio = "1.00x (baseline)" if base is None else f"{ms / base:.2f}x"
        out.append(f"| {what} | {ms:.1f} | {ratio} |")
    return "\n".join(out)

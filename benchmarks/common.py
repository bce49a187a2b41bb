"""Timing helpers: medians of several runs, ratios against a baseline measured in the same run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(
    fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None
) -> float:
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


def ratio(ms: float, base: float) -> str:
    return f"{ms / base:.2f}x"


def markdown(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A table with any columns: the first left-aligned, the others right-aligned."""
    out = [
        f"\n### {title}\n",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def interleaved(measures: dict[str, Callable[[], float]], runs: int) -> dict[str, float]:
    """Median of each measure (one sample per call), taking the samples in rounds - a, b, c, a, b, c - so a
    slow stretch of a shared machine weighs on every measure alike instead of on whichever ran then."""
    samples: dict[str, list[float]] = {key: [] for key in measures}
    for _ in range(runs):
        for key, measure in measures.items():
            samples[key].append(measure())
    return {key: statistics.median(values) for key, values in samples.items()}

"""The time budget: how long a run may take, and what each bounded step may spend of it.

One value, `Deadline`, is consulted by every bounded wait (the database, the migration lock, each
revision); the margins below are the only other numbers that decide how time is shared.
"""

from __future__ import annotations

import math
import time

# A revision does not start unless at least this long is left: a statement_timeout shorter than this
# would only fail it halfway. Also the least time worth connecting with.
MIN_STEP_SECONDS = 2.0

# Time kept back from the engine to report the outcome (a CodePipeline call, an S3 PUT, the return):
# a tenth of what is left, at least a few seconds and at most ten.
REPORT_MARGIN_MIN = 3.0
REPORT_MARGIN_MAX = 10.0
REPORT_MARGIN_FRACTION = 0.1

# What the watchdog (engine/watchdog.py) may spend stopping a run at its deadline: its own connection, the
# termination of the run's sessions and the read back. Part of every reporting margin.
STOP_SECONDS = 3.0


class Deadline:
    """A point in monotonic time; `None` seconds means no deadline (a laptop, CI)."""

    def __init__(self, seconds: float | None = None) -> None:
        self._end = None if seconds is None else time.monotonic() + seconds

    @classmethod
    def for_invocation(cls, remaining: float | None) -> Deadline:
        """The engine's deadline for an invocation with `remaining` seconds left (None: no Lambda clock)."""
        if remaining is None:
            return cls()
        return cls(max(0.0, remaining - report_margin(remaining)))

    def remaining(self) -> float:
        return math.inf if self._end is None else max(0.0, self._end - time.monotonic())

    def bound(self, seconds: float) -> float:
        """`seconds`, cut to what is left."""
        return min(seconds, self.remaining())

    def sub(self, seconds: float) -> Deadline:
        """A deadline for one bounded wait inside this one."""
        return Deadline(self.bound(seconds))


def report_margin(remaining: float) -> float:
    return max(REPORT_MARGIN_MIN, min(REPORT_MARGIN_MAX, remaining * REPORT_MARGIN_FRACTION))

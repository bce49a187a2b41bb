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

# Time kept back from the engine to report the outcome: what the watchdog (engine/watchdog.py) may spend
# stopping a run at its deadline (its own connection, ending the run's sessions, the read back), then what
# the caller's reply may take with its bounded retries (each source's REPLY_SECONDS: a CodePipeline call or
# an S3 PUT that hangs once and is retried), then the return. Never more than half of what is left: a reply
# also bounds its attempts by the invocation's end (sources/base.py), so a short invocation still answers.
STOP_SECONDS = 3.0
DIRECT_REPLY_SECONDS = 0.5  # a direct caller's reply is the return value
RETURN_SECONDS = 0.5
REPORT_MARGIN_FRACTION = 0.5


class Deadline:
    """A point in monotonic time; `None` seconds means no deadline (a laptop, CI)."""

    def __init__(self, seconds: float | None = None) -> None:
        self._end = None if seconds is None else time.monotonic() + seconds

    @classmethod
    def for_invocation(
        cls, remaining: float | None, reply_seconds: float = DIRECT_REPLY_SECONDS
    ) -> Deadline:
        """The engine's deadline for an invocation with `remaining` seconds left (None: no Lambda clock) whose
        reply may take `reply_seconds`."""
        if remaining is None:
            return cls()
        return cls(max(0.0, remaining - report_margin(remaining, reply_seconds)))

    def remaining(self) -> float:
        return math.inf if self._end is None else max(0.0, self._end - time.monotonic())

    def bound(self, seconds: float) -> float:
        """`seconds`, cut to what is left."""
        return min(seconds, self.remaining())

    def sub(self, seconds: float) -> Deadline:
        """A deadline for one bounded wait inside this one."""
        return Deadline(self.bound(seconds))


def report_margin(remaining: float, reply_seconds: float = DIRECT_REPLY_SECONDS) -> float:
    return min(STOP_SECONDS + reply_seconds + RETURN_SECONDS, remaining * REPORT_MARGIN_FRACTION)


class Backoff:
    """The wait between attempts of a bounded retry loop (the database's readiness, the migration lock, a
    revision that met a table lock): `first`, doubled after each wait, at most `cap`. The loop decides when
    to stop; this only says how long to wait and waits."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self.delay = first  # the next wait

    def reset(self) -> None:
        self.delay = self.first

    def sleep(self, at_most: float = math.inf) -> None:
        time.sleep(min(self.delay, at_most))  # backoff between attempts, not synchronisation
        self.delay = min(self.delay * 2, self.cap)

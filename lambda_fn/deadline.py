"""Time the caller has left, as one value every bounded wait consults."""

from __future__ import annotations

import math
import time


class Deadline:
    """A point in monotonic time; `None` seconds means no deadline (a laptop, CI)."""

    def __init__(self, seconds: float | None = None) -> None:
        self._end = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float:
        return math.inf if self._end is None else max(0.0, self._end - time.monotonic())

    def bound(self, seconds: float) -> float:
        """`seconds`, cut to what is left."""
        return min(seconds, self.remaining())

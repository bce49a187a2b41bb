"""What every source shares: the `Execute` it is handed, what it reports back to the handler, and the
limits of the text it renders."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lambda_fn.request import Request
from lambda_fn.result import Result

# Request -> Result with the invocation's settings, deadline and credentials; never raises.
Execute = Callable[[Request], Result]

# Replies are bounded by the invocation's own end, not only by their timeouts: the last half second is the
# handler's return, and an attempt is not started with less than MIN_ATTEMPT left (it could not finish).
REPLY_SAFETY = 0.5
MIN_ATTEMPT = 0.5


@dataclass(frozen=True)
class LambdaInfo:
    """What a reply may quote about this invocation so an operator can find its logs."""

    request_id: str = ""
    log_group: str = ""
    log_stream: str = ""
    ends_at: float | None = (
        None  # time.monotonic() when Lambda ends the invocation (None: no Lambda clock)
    )

    def reply_time(self) -> float:
        """Seconds a reply may still take (inf without a Lambda clock)."""
        return math.inf if self.ends_at is None else self.ends_at - time.monotonic() - REPLY_SAFETY

    def attempt_bound(self, wanted: float) -> float | None:
        """The timeout for one more reply attempt: `wanted`, cut to the time left; None: too late to try."""
        left = self.reply_time()
        return None if left < MIN_ATTEMPT else min(wanted, left)

    def where(self) -> str:
        parts = [
            f"log group {self.log_group}" if self.log_group else "",
            f"stream {self.log_stream}" if self.log_stream else "",
            f"request {self.request_id}" if self.request_id else "",
        ]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Outcome:
    """What one invocation did, for the handler: what to count, what to return, whether it was heard."""

    result: Result  # the engine's result, or the refusal of a malformed request
    response: dict[str, Any]  # the function's return value
    error: Exception | None = None  # raised to Lambda (direct callers only: it is their channel)
    delivered: bool = True  # False when the caller's channel could not be reached


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def duration(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"

"""The checks the snapshot and the rehearsal both make of their options: an RDS identifier prefix and bounded
polling (``<Owner>.<option>`` in each message, so the team sees which option to change)."""

from __future__ import annotations

import re

from aws_cdk import Duration

RDS_PREFIX = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*(?<!-)$")
MAX_POLLS = 1000


def polls(timeout: Duration, poll_interval: Duration) -> int:
    """How many polls ``timeout`` allows (at least one)."""
    return max(1, -(-int(timeout.to_seconds()) // max(1, int(poll_interval.to_seconds()))))


def check_prefix(owner: str, prefix: str, max_length: int) -> None:
    if len(prefix) > max_length or not RDS_PREFIX.match(prefix):
        raise ValueError(
            f"{owner}.prefix {prefix!r}: 1..{max_length} lowercase letters, digits and single hyphens, "
            "starting with a letter (RDS identifier rules)"
        )


def check_polling(owner: str, poll_interval: Duration, timeout: Duration) -> None:
    poll = poll_interval.to_seconds()
    if not 1 <= poll <= 3600:
        raise ValueError(f"{owner}.poll_interval must be 1 second..1 hour")
    if timeout.to_seconds() < poll:
        raise ValueError(f"{owner}.timeout must be at least one poll_interval")
    if polls(timeout, poll_interval) > MAX_POLLS:
        raise ValueError(
            f"{owner}: timeout / poll_interval allows over 1,000 polls; poll less often"
        )

"""The one wait between attempts the retry loops share (readiness, migration lock, table-lock retries)."""

from __future__ import annotations

from lambda_fn.deadline import Backoff


def test_the_wait_doubles_up_to_its_cap_and_starts_over_on_reset() -> None:
    backoff = Backoff(0.25, 1.5)
    seen = []
    for _ in range(5):
        seen.append(backoff.delay)
        # the bound cuts the wait itself (here to nothing), never the sequence
        backoff.sleep(at_most=0)
    assert seen == [0.25, 0.5, 1.0, 1.5, 1.5]
    backoff.reset()
    assert backoff.delay == 0.25

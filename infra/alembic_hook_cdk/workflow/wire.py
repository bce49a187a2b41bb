"""The function's answer as the state machine reads it: paths to the wire contract's fields
(``lambda_fn/contract.py``), so a selector or a choice naming a field the result does not have fails at synth."""

from __future__ import annotations

from lambda_fn.contract import FIELDS


def from_answer(name: str) -> str:
    """``$.<name>`` of the function's result (a ResultSelector's input)."""
    if name not in FIELDS:
        raise ValueError(
            f"{name!r} is not a field of the function's result (lambda_fn/contract.py)"
        )
    return f"$.{name}"


def from_result(name: str) -> str:
    """``$.result.<name>``: the field as the last invocation's trimmed result holds it in the state."""
    return "$.result" + from_answer(name)[1:]

"""Botocore settings for every AWS call the function makes: short and bounded, so a missing VPC endpoint or
NAT shows as a clear error within seconds instead of a hang until the caller's own timeout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

BOTO_CONFIG: dict[str, Any] = {
    "connect_timeout": 3,
    "read_timeout": 10,
    "retries": {"max_attempts": 3, "mode": "standard"},
}


def bounded_config(**overrides: Any) -> Config:
    from botocore.config import Config  # botocore only on the paths that call AWS

    return Config(**{**BOTO_CONFIG, **overrides})

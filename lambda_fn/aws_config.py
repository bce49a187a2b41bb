"""Botocore settings for every AWS call the function makes: short and bounded, so a missing VPC endpoint or
NAT shows as a clear error within seconds instead of a hang until the caller's own timeout."""

from __future__ import annotations

from typing import Any

BOTO_CONFIG: dict[str, Any] = {
    "connect_timeout": 3,
    "read_timeout": 10,
    "retries": {"max_attempts": 3, "mode": "standard"},
}

"""Where the repository is, for the kit and the tests that run its files."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

"""The one Powertools Logger every module logs through.

Logs go to stderr: on Lambda both streams reach CloudWatch, and locally stdout stays free for the CLI's
output (`--json` is pipeable).
"""

from __future__ import annotations

import logging
import os
import sys

from aws_lambda_powertools import Logger

logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "alembic-hook"), stream=sys.stderr
)


def reenable() -> None:
    """Switch the hook's logger back on after a team's env.py configured logging: Alembic's env.py template
    calls `fileConfig(alembic.ini)`, whose default `disable_existing_loggers=True` disables every logger that
    exists, the hook's included, for the rest of the process (a warm Lambda's next invocations too)."""
    logging.getLogger(logger.name).disabled = False

"""The one Powertools Logger every module logs through.

Logs go to stderr: on Lambda both streams reach CloudWatch, and locally stdout stays free for the CLI's
output (`--json` is pipeable).
"""

from __future__ import annotations

import os
import sys

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "alembic-hook"), stream=sys.stderr)

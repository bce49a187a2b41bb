"""The asset's layout (asset root = /var/task). The runtime reads these paths through environment variables."""

from __future__ import annotations

# Part of the asset hash: bump it whenever the layout or the build steps change, so CDK rebuilds.
BUNDLE_FORMAT = 3  # 3: alembic_hook_lint.json (the safety gate) beside env.py

HANDLER_PACKAGE = "lambda_fn"
MIGRATIONS_DIR = "migrations"
ALEMBIC_INI = f"{MIGRATIONS_DIR}/alembic.ini"
CA_BUNDLE_PATH = "certs/rds-ca-bundle.pem"
MANIFEST = "hook-bundle.json"
LAMBDA_TASK_ROOT = "/var/task"

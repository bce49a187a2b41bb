"""The function's environment: the hook's own settings written through ``Settings.to_env`` (the same
table of variable names the runtime reads with ``Settings.from_env``), plus Powertools' variables."""

from __future__ import annotations

from aws_cdk import Duration

from alembic_hook_cdk.bundling import ALEMBIC_INI, CA_BUNDLE_PATH, LAMBDA_TASK_ROOT, MIGRATIONS_DIR
from alembic_hook_cdk.hook.props import MigrationHookProps
from lambda_fn.settings import SOURCE_EXTENSION, Settings


def function_environment(props: MigrationHookProps) -> dict[str, str]:
    settings = Settings.to_env(
        # Relative paths: the runtime resolves them against LAMBDA_TASK_ROOT (the asset root).
        alembic_config=ALEMBIC_INI,
        script_location=MIGRATIONS_DIR,
        secret_id=props.secret.secret_arn,  # the ARN only: the password never leaves the secret
        secret_source=SOURCE_EXTENSION if props.secrets_extension else None,
        db_host=props.database_host,
        db_port=props.database_port,
        db_name=props.database_name,
        sslmode=props.ssl_mode,
        sslrootcert=f"{LAMBDA_TASK_ROOT}/{CA_BUNDLE_PATH}" if props.ca_bundle is not None else None,
        db_wait=seconds(props.database_wait),
        migration_lock_wait=seconds(props.lock_wait),
        migration_lock_name=props.lock_name,
        table_lock_timeout=seconds(props.lock_timeout),
        statement_timeout=seconds(props.statement_timeout),
    )
    powertools = {
        "POWERTOOLS_SERVICE_NAME": props.service_name,
        "POWERTOOLS_METRICS_NAMESPACE": props.metrics_namespace,
        "POWERTOOLS_LOG_LEVEL": props.log_level,
    }
    return settings | powertools


def seconds(duration: Duration) -> float:
    """A Duration as the float seconds a Settings field holds (rendered ``60``, ``0.5``: ``{:g}``)."""
    return float(duration.to_seconds())

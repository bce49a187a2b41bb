"""The function's environment, read back the way the runtime reads it: ``Settings.from_env``.

The construct writes its variables with ``Settings.to_env`` (lambda_fn/settings.py), so both sides use
one table of names. These tests close the loop on the synthesized templates: every variable the template
carries is one the runtime knows, and parsing it gives exactly the settings the props asked for. CDK tokens
(the secret's ARN is a ``Ref``) reach the template as intrinsic functions; they are replaced by a placeholder
string before parsing, and checked to be what they should be.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration

from alembic_hook_cdk.bundling import ALEMBIC_INI, CA_BUNDLE_PATH, LAMBDA_TASK_ROOT, MIGRATIONS_DIR
from lambda_fn.settings import VARIABLES, Settings
from tests.infra.conftest import HookFactory, hook_function_id, template_of

TOKEN = "<cdk-token>"
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


def hook_variables(template: dict[str, Any]) -> dict[str, Any]:
    """The hook's own variables (Powertools' set aside), as the template holds them."""
    function = template["Resources"][hook_function_id(template)]["Properties"]
    variables = dict(function["Environment"]["Variables"])
    assert set(variables) >= POWERTOOLS
    # the Parameters and Secrets extension's own settings (CDK writes them with its layer) are the layer's
    extension = ("PARAMETERS_SECRETS_", "SECRETS_MANAGER_", "SSM_")
    return {
        name: value
        for name, value in variables.items()
        if name not in POWERTOOLS and not name.startswith(extension)
    }


def read_back(variables: dict[str, Any]) -> Settings:
    """``Settings.from_env`` of the template's variables, every token replaced by ``TOKEN``; and the check
    that the construct wrote nothing the runtime would ignore, and nothing ``Settings.to_env`` would
    not write for the same settings."""
    assert set(variables) <= {var.name for var in VARIABLES}
    env = {name: value if isinstance(value, str) else TOKEN for name, value in variables.items()}
    settings = Settings.from_env(env)
    written = {var.field for var in VARIABLES if var.name in env}
    assert Settings.to_env(**{name: getattr(settings, name) for name in written}) == env
    return settings


def test_example_environment_reads_back_through_settings(template: dict[str, Any]) -> None:
    variables = hook_variables(template)
    # the ARN of the database's secret (a Ref to its attachment in the example), never a password
    assert set(variables["DB_SECRET_ARN"]) == {"Ref"}
    assert not [name for name in variables if "PASSWORD" in name]
    assert read_back(variables) == Settings(
        alembic_config=ALEMBIC_INI,
        script_location=MIGRATIONS_DIR,
        secret_id=TOKEN,
        secret_source="extension",  # the construct's default: the Parameters and Secrets extension
        db_port=5432,
        db_name="app",
        sslmode="verify-full",
        sslrootcert=f"{LAMBDA_TASK_ROOT}/{CA_BUNDLE_PATH}",
        db_wait=60,
        migration_lock_wait=60,
        table_lock_timeout=5,
        statement_timeout=600,
    )
    # rendered as they always were
    assert {
        name: variables[name]
        for name in ("DB_PORT", "DB_WAIT_SECONDS", "DB_STATEMENT_TIMEOUT_SECONDS")
    } == {
        "DB_PORT": "5432",
        "DB_WAIT_SECONDS": "60",
        "DB_STATEMENT_TIMEOUT_SECONDS": "600",
    }


def test_construct_options_read_back_through_settings(hook_stack: HookFactory) -> None:
    stack, hook = hook_stack(
        timeout=Duration.minutes(5),
        statement_timeout=Duration.minutes(4),
        lock_timeout=Duration.seconds(3),
        lock_wait=Duration.seconds(90),
        database_wait=Duration.seconds(30),
        database_port=6432,
        database_host="db.internal",
        database_name="orders",
        lock_name="orders_migrations",
    )
    variables = hook_variables(template_of(stack).to_json())
    assert variables["DB_SECRET_ARN"] == stack.resolve(hook.props.secret.secret_arn)
    assert read_back(variables) == Settings(
        alembic_config=ALEMBIC_INI,
        script_location=MIGRATIONS_DIR,
        secret_id=TOKEN,
        secret_source="extension",
        db_host="db.internal",
        db_port=6432,
        db_name="orders",
        sslmode="verify-full",
        sslrootcert=f"{LAMBDA_TASK_ROOT}/{CA_BUNDLE_PATH}",
        db_wait=30,
        migration_lock_wait=90,
        migration_lock_name="orders_migrations",
        table_lock_timeout=3,
        statement_timeout=240,
    )


def test_relaxed_tls_reads_back_without_a_ca_bundle(hook_stack: HookFactory) -> None:
    stack, _ = hook_stack(ca_bundle=None, ssl_mode="require")
    settings = read_back(hook_variables(template_of(stack).to_json()))
    assert settings.sslmode == "require"
    assert settings.sslrootcert is None
    # what the props leave unset stays at the runtime's defaults
    defaults = Settings()
    for name in (
        "db_host",
        "db_name",
        "migration_lock_name",
        "db_wait",
        "statement_timeout",
        "create_database",
    ):
        assert getattr(settings, name) == getattr(defaults, name), name

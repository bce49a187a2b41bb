"""Environment -> one frozen Settings value, validated once.

`VARIABLES` is the one table of environment variable names: the runtime reads it (`Settings.from_env`) and
the CDK construct writes it (`Settings.to_env`), so the two can never spell a name differently.
Credentials in URL or component form (DATABASE_URL, POSTGRES_*, DATABASE_*) stay in `env`: they are read
by `credentials.resolve` and must never be copied into a value that might be logged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError

SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
# how the secret is read (DB_SECRET_SOURCE)
SOURCE_SDK, SOURCE_EXTENSION = "sdk", "extension"
SECRET_SOURCES = (SOURCE_SDK, SOURCE_EXTENSION)
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Settings:
    # where the Alembic project lives
    alembic_config: str = "alembic.ini"
    script_location: str | None = None
    # where the credentials come from (a secret; host/port/name fill an RDS-managed secret)
    secret_id: str | None = None
    # how the secret is read: "sdk" (Powertools + boto3) or "extension" (the AWS Parameters and Secrets
    # Lambda Extension over localhost HTTP, no boto3 import; a forced re-read still goes through the SDK)
    secret_source: str = SOURCE_SDK
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None
    # TLS (libpq meaning); DATABASE_URL's sslmode/sslrootcert win over these when present
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    # waiting for the database, in seconds
    db_wait: float = 60.0
    # the migration lock: one runner at a time
    migration_lock_wait: float = 60.0
    migration_lock_name: str = "alembic_version"
    # table locks and statements inside a revision
    table_lock_timeout: float = 5.0
    table_lock_retries: int = 4
    statement_timeout: float = 600.0
    # a runner gone silent: PostgreSQL ends its sessions (and frees their locks) after this long
    idle_timeout: float = 30.0
    # the ledger: where the hook keeps its record of runs and revisions
    ledger_schema: str | None = None
    ledger_prefix: str = "alembic_hook_"
    # behaviour
    create_database: bool = False
    skip_migrations: bool = False
    application_name: str = "alembic-hook"
    # the raw environment, for the credential sources (kept out of repr: it holds passwords)
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name, "").strip()
            if raw:
                values[var.field] = var.parse(var.name, raw)
        return cls(**values, env=env)

    @classmethod
    def to_env(cls, **values: object) -> dict[str, str]:
        """The environment variables that make `from_env` give these field values (the construct's side).
        Values may be CDK tokens; they are rendered, not validated."""
        by_field = {var.field: var for var in VARIABLES}
        known = {f.name for f in fields(cls)} - {"env"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"not a setting: {', '.join(unknown)}")
        return {
            by_field[name].name: _render(value)
            for name, value in values.items()
            if value is not None
        }


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _text(name: str, raw: str) -> str:
    return raw


def _flag(name: str, raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise HookError(ErrorKind.CONFIGURATION, f"{name}={raw!r} is not a boolean; use true or false.")


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise HookError(
            ErrorKind.CONFIGURATION, f"{name}={raw!r} must be a non-negative number of seconds."
        )
    return value


def _count(name: str, raw: str) -> int:
    return int(_seconds(name, raw))


def parse_port(name: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise HookError(ErrorKind.CONFIGURATION, f"{name}={raw!r} is not a TCP port.")
    return port


def _secret_source(name: str, raw: str) -> str:
    source = raw.lower()
    if source not in SECRET_SOURCES:
        raise HookError(
            ErrorKind.CONFIGURATION,
            f"{name}={raw!r} is not one of {', '.join(SECRET_SOURCES)}; "
            "sdk (the default) reads it with boto3, extension through the AWS Parameters and Secrets "
            "Lambda Extension's layer.",
        )
    return source


def parse_sslmode(name: str, raw: str) -> str:
    mode = raw.lower()
    if mode not in SSL_MODES:
        raise HookError(
            ErrorKind.CONFIGURATION,
            f"{name}={mode!r} is not one of {', '.join(SSL_MODES)}; "
            "use verify-full (the default) with DB_SSLROOTCERT pointing at the CA bundle.",
        )
    return mode


@dataclass(frozen=True)
class Variable:
    name: str
    field: str
    parse: Callable[[str, str], Any]


VARIABLES = (
    Variable("ALEMBIC_CONFIG", "alembic_config", _text),
    Variable("ALEMBIC_SCRIPT_LOCATION", "script_location", _text),
    Variable("DB_SECRET_ARN", "secret_id", _text),
    Variable("DB_SECRET_SOURCE", "secret_source", _secret_source),
    Variable("DB_HOST", "db_host", _text),
    Variable("DB_PORT", "db_port", parse_port),
    Variable("DB_NAME", "db_name", _text),
    Variable("DB_SSLMODE", "sslmode", parse_sslmode),
    Variable("DB_SSLROOTCERT", "sslrootcert", _text),
    Variable("DB_WAIT_SECONDS", "db_wait", _seconds),
    Variable("MIGRATION_LOCK_WAIT_SECONDS", "migration_lock_wait", _seconds),
    Variable("MIGRATION_LOCK_NAME", "migration_lock_name", _text),
    Variable("DB_LOCK_TIMEOUT_SECONDS", "table_lock_timeout", _seconds),
    Variable("DB_LOCK_RETRIES", "table_lock_retries", _count),
    Variable("DB_STATEMENT_TIMEOUT_SECONDS", "statement_timeout", _seconds),
    Variable("DB_IDLE_TIMEOUT_SECONDS", "idle_timeout", _seconds),
    Variable("LEDGER_SCHEMA", "ledger_schema", _text),
    Variable("LEDGER_TABLE_PREFIX", "ledger_prefix", _text),
    Variable("CREATE_DATABASE", "create_database", _flag),
    Variable("SKIP_MIGRATIONS", "skip_migrations", _flag),
    Variable("DB_APPLICATION_NAME", "application_name", _text),
)

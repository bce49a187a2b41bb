"""Environment -> one frozen Settings value, validated once.

Every knob the engine reads from the environment is named here, so the CDK construct, the CLI and the
README all point at one list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from lambda_fn.errors import ErrorKind, HookError

SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    # where the Alembic project lives
    alembic_config: str = "alembic.ini"
    script_location: str | None = None
    # TLS (libpq meaning); DATABASE_URL's sslmode/sslrootcert win over these when present
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    # bounds, in seconds
    db_wait: float = 60.0
    lock_wait: float = 60.0
    lock_timeout: float = 5.0
    statement_timeout: float = 600.0
    lock_retries: int = 4
    # behaviour
    create_database: bool = False
    skip_migrations: bool = False
    lock_name: str = "alembic_version"
    application_name: str = "alembic-hook"
    # the raw environment, for the credential sources (kept out of repr: it holds passwords)
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        sslmode = env.get("DB_SSLMODE", "verify-full").strip().lower() or "verify-full"
        if sslmode not in SSL_MODES:
            raise HookError(
                ErrorKind.CONFIGURATION,
                f"DB_SSLMODE={sslmode!r} is not one of {', '.join(SSL_MODES)}; "
                "use verify-full (the default) with DB_SSLROOTCERT pointing at the CA bundle.",
            )
        return cls(
            alembic_config=env.get("ALEMBIC_CONFIG") or "alembic.ini",
            script_location=env.get("ALEMBIC_SCRIPT_LOCATION") or None,
            sslmode=sslmode,
            sslrootcert=env.get("DB_SSLROOTCERT") or None,
            db_wait=_seconds(env, "DB_WAIT_SECONDS", 60.0),
            lock_wait=_seconds(env, "MIGRATION_LOCK_WAIT_SECONDS", 60.0),
            lock_timeout=_seconds(env, "DB_LOCK_TIMEOUT_SECONDS", 5.0),
            statement_timeout=_seconds(env, "DB_STATEMENT_TIMEOUT_SECONDS", 600.0),
            lock_retries=int(_seconds(env, "DB_LOCK_RETRIES", 4)),
            create_database=_flag(env, "CREATE_DATABASE"),
            skip_migrations=_flag(env, "SKIP_MIGRATIONS"),
            lock_name=env.get("MIGRATION_LOCK_NAME") or "alembic_version",
            application_name=env.get("DB_APPLICATION_NAME") or "alembic-hook",
            env=env,
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise HookError(ErrorKind.CONFIGURATION, f"{name}={raw!r} is not a boolean; use true or false.")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise HookError(ErrorKind.CONFIGURATION, f"{name}={raw!r} must be a non-negative number of seconds.")
    return value

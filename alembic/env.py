"""Alembic environment for the example service.

Works three ways: under the hook (which passes an open connection in `config.attributes["connection"]`),
offline for `sql` review, and from the plain `alembic` command line (engine built from `sqlalchemy.url`
or ALEMBIC_DATABASE_URL).
"""

import os
from logging.config import fileConfig

from sqlalchemy import Connection, engine_from_config, pool

from alembic import context

config = context.config

# The hook configures logging itself (Powertools); the plain command line uses the ini's sections.
# disable_existing_loggers=False: the default would silence every logger created before this point.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# The service's models would go here for autogenerate; migrations below are hand-written.
target_metadata = None


def _url() -> str | None:
    return os.environ.get("ALEMBIC_DATABASE_URL") or config.get_main_option("sqlalchemy.url") or None


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        dialect_name=None if url else "postgresql",
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # One transaction per revision: a failure leaves the database at the last good revision.
    context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    section = config.get_section(config.config_ini_section, {})
    if url := _url():
        section["sqlalchemy.url"] = url
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

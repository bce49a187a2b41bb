"""The copy a rehearsal runs on: its settings (the target's, with the copy's credentials) and the two
refusals made before any DDL: the copy is the target itself, or it is not at the target's revision."""

from __future__ import annotations

import secrets
from dataclasses import replace

from sqlalchemy import Connection

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError
from lambda_fn.request import CopyDatabase
from lambda_fn.settings import Settings

# the environment variables credentials.resolve reads: none of the target's may reach the copy
_CREDENTIAL_VARIABLES = (
    "DATABASE_URL",
    "POSTGRES_",
    "DATABASE_",
    "DB_SECRET_ARN",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
)

# the marker: an advisory lock the target's session holds, looked for from the copy's session. Advisory locks
# are per database (pg_locks.database): the copy sees it only when it is the same database of the same server
MARKER_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = {0} AND objid = {1} "
    "AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)


def copy_settings(settings: Settings, copy: CopyDatabase) -> Settings:
    """The target's settings (TLS, bounds, ledger names) with the copy's credentials."""
    env = {k: v for k, v in settings.env.items() if not k.startswith(_CREDENTIAL_VARIABLES)}
    if copy.url:
        return replace(
            settings,
            env={**env, "DATABASE_URL": copy.url},
            secret_id=None,
            db_host=None,
            db_port=None,
            db_name=None,
            create_database=False,
        )
    secret = copy.secret_arn or settings.secret_id
    if not secret or not (copy.host or copy.secret_arn):
        raise HookError(
            ErrorKind.BAD_REQUEST,
            'The copy needs its endpoint: "copy": {"host": ..., "port": ..., '
            '"name": ..., "secret_arn": ...} (the host may come from the copy\'s own secret; secret_arn '
            "defaults to the target's: a clone or restore keeps the source's users), or a URL (CLI: "
            "rehearse --on COPY_URL).",
        )
    return replace(
        settings,
        env=env,
        secret_id=secret,
        db_host=copy.host,
        db_port=copy.port or settings.db_port,
        db_name=copy.name or settings.db_name,
        create_database=False,
    )


def refuse_if_target(target: Connection, copy: Connection, where: str) -> None:
    """Refuse a copy that is the target's own database, however it is named (another host name, port
    forwarding, a proxy)."""
    k1, k2 = secrets.randbelow(2**31), secrets.randbelow(2**31)
    target.exec_driver_sql(f"SELECT pg_advisory_lock({k1}, {k2})")
    target.commit()
    try:
        same = bool(copy.exec_driver_sql(MARKER_SQL.format(k1, k2)).scalar())
        copy.commit()
    finally:
        target.exec_driver_sql(f"SELECT pg_advisory_unlock({k1}, {k2})")
        target.commit()
    if same:
        raise HookError(
            ErrorKind.BAD_REQUEST,
            f"The copy {where} is the target database itself; nothing was run. "
            "Rehearse on a copy: an Aurora clone, a restored snapshot, or CREATE DATABASE copy TEMPLATE "
            "target.",
        )


def refuse_other_revision(target_at: tuple[str, ...], copy_at: tuple[str, ...], where: str) -> None:
    if set(target_at) != set(copy_at):
        raise HookError(
            ErrorKind.BAD_REQUEST,
            f"The copy {where} is at {','.join(copy_at) or 'base'}, the target at "
            f"{','.join(target_at) or 'base'}: a rehearsal there would measure another range; nothing "
            "was run. Make a fresh copy of the target.",
        )

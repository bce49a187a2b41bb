"""The common deploy, "already at head", answered without SQLAlchemy, Alembic, env.py or a revision file.

Most deploys carry no new migration. When the project's manifest (or this machine's cache) knows the heads
and the version table for exactly these files, the answer is one pg8000 connection - the one that proved the
database ready - and one SELECT. Anything else (a revision pending, an unknown revision, several heads for an
upgrade, another command, a manifest miss) goes the full way (`migrate.py`), which gives any refusal; the
connection's credentials are handed on so the full path does not wait for the database again.

The answer is the full path's, field for field, log line for log line: both paths hand the same values
(`Found`, `NoOp`) to `answer.give`, and write the situation through `answer.situation`.
"""

from __future__ import annotations

import pg8000.native

from lambda_fn import credentials
from lambda_fn.contract import Status
from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import MIN_STEP_SECONDS, Deadline
from lambda_fn.engine.answer import Found, NoOp, Outcome, situation
from lambda_fn.engine.heads_manifest import VersionTable
from lambda_fn.engine.ledger import Ledger, Names, code_identity
from lambda_fn.engine.locate import locate
from lambda_fn.postgres.errors import classify, sqlstate
from lambda_fn.postgres.readiness import Ready, wait_until_ready
from lambda_fn.request import Command, Request, is_heads
from lambda_fn.result import Result
from lambda_fn.settings import Settings

UNDEFINED_TABLE = "42P01"


def answer(
    request: Request,
    result: Result,
    settings: Settings,
    *,
    deadline: Deadline,
    read_secret: SecretReader | None,
    application_name: str,
) -> tuple[Outcome | None, Ready | None]:
    """(the answer, None) with `result`'s situation filled in when the database is at the heads; otherwise
    (None, what the full path can reuse: the database found ready, or None) with `result` untouched."""
    head_target = request.revision is None or is_heads(request.revision)
    if not (
        request.command is Command.STATUS or (request.command is Command.UPGRADE and head_target)
    ):
        return None, None
    located = locate(settings.alembic_config, settings.script_location)
    known = located.known() if located else None
    if located is None or known is None or deadline.remaining() < MIN_STEP_SECONDS:
        return None, None
    heads, versions = known
    if request.command is Command.UPGRADE and len(heads) != 1:
        return None, None  # the full path refuses, before touching the database
    creds = credentials.resolve(settings, read_secret)
    ready = wait_until_ready(
        creds,
        wait=settings.db_wait,
        deadline=deadline,
        application_name=application_name,
        on_auth_failure=lambda: credentials.resolve(settings, read_secret, force_fetch=True),
        create_database=settings.create_database,
        keep_open=True,
        # this connection's only write is the at-head ledger row: it need not wait for the WAL flush (a crash
        # of the server in that instant can lose the row, never a migration's)
        startup={"synchronous_commit": "off"},
    )
    conn = ready.conn
    assert conn is not None
    handed_on = Ready(ready.creds, ready.server_major)
    try:
        current = _current(conn, versions, ready.creds)
        if not current or set(current) != set(heads):
            return None, handed_on
        if request.command is Command.UPGRADE:
            # the deploy on record: one INSERT; no ledger yet means the full path creates it, under the lock
            ledger = Ledger(
                lambda sql, params: conn.run(sql, **params) or [], lambda: None, Names.of(settings)
            )
            try:
                result.run_id = ledger.start(
                    request.command.value,
                    request.origin,
                    code_identity(located.fingerprint),
                    ",".join(current),
                    status=Status.UP_TO_DATE.value,
                )
            except pg8000.native.DatabaseError as exc:
                if sqlstate(exc) == UNDEFINED_TABLE:
                    return None, handed_on
                raise classify(exc, ready.creds) from None
    finally:
        conn.close()
    result.database = ready.creds.describe()
    situation(result, request.command, current, heads, lambda: [])  # at the heads: nothing pending
    return decide(request, current, heads), None


def decide(request: Request, current: tuple[str, ...], heads: tuple[str, ...]) -> Outcome:
    """The answer for a database found at exactly the heads, as the full path's handler gives it."""
    if request.command is Command.STATUS:
        return Found(",".join(current), heads, ())
    return NoOp(",".join(current), request.revision or "head")


def _current(
    conn: pg8000.native.Connection, versions: VersionTable, creds: credentials.Credentials
) -> tuple[str, ...]:
    try:
        return tuple(
            str(row[0]) for row in conn.run(f"SELECT version_num FROM {versions.quoted()}")
        )
    except pg8000.native.DatabaseError as exc:
        if sqlstate(exc) == UNDEFINED_TABLE:
            return ()
        raise classify(exc, creds) from None

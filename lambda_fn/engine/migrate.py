"""The full path: the project through Alembic, env.py probed, the command's handler, under the lock when it
changes anything. Loaded only when the fast path (`at_head.py`) cannot answer.
"""

from __future__ import annotations

from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import Deadline
from lambda_fn.engine import watchdog
from lambda_fn.engine.answer import HeadRevisions, Outcome, situation
from lambda_fn.engine.commands import HANDLERS
from lambda_fn.engine.context import Context, Observer
from lambda_fn.engine.env_py import HookDatabase
from lambda_fn.engine.project import AlembicProject
from lambda_fn.engine.record import sqlalchemy_ledger
from lambda_fn.engine.target import TargetDatabase
from lambda_fn.postgres.readiness import Ready
from lambda_fn.request import Command, Request
from lambda_fn.result import Result
from lambda_fn.settings import Settings


def migrate(
    request: Request,
    result: Result,
    settings: Settings,
    *,
    deadline: Deadline,
    read_secret: SecretReader | None,
    application_name: str,
    observe: Observer | None,
    ready: Ready | None,
) -> Outcome:
    """What the command found or did; on the way `result` records how far it got (a failure raises)."""
    target = TargetDatabase(settings, deadline, read_secret, application_name, ready)
    return _dispatch(request, result, target, observe)


def _dispatch(
    request: Request, result: Result, target: TargetDatabase, observe: Observer | None
) -> Outcome:
    project = AlembicProject(target.settings.alembic_config, target.settings.script_location)
    cmd = request.command
    if cmd is Command.HEADS:
        return HeadRevisions(tuple(project.heads()))
    if cmd in (Command.UPGRADE, Command.DOWNGRADE):
        project.require_single_head()  # before touching the database at all
    creds = target.ready_credentials()
    result.database = creds.describe()
    with target.connect(creds) as conn:
        database = HookDatabase(conn, target.engine, creds, lambda: target.url(creds))
        ctx = Context(
            request,
            result,
            project,
            target,
            database,
            sqlalchemy_ledger(conn, target.settings),
            observe,
        )
        # env.py must migrate this database, and says where its version table is
        plan = project.probe(database)
        # for a read back at the deadline
        watchdog.note_version_table(plan.version_table_schema, plan.version_table)
        current = ctx.current()
        heads = project.heads()
        known = all(project.knows(rev) for rev in current)
        situation(
            result,
            cmd,
            current,
            heads,
            lambda: [s.revision for s in project.pending(current)] if known else [],
        )
        if cmd is not Command.STAMP:
            project.check_known(current)
        return HANDLERS[cmd](ctx, current)

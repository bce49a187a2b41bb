"""The full path: the project through Alembic, env.py probed, the command's handler, under the lock when it
changes anything. Loaded only when the fast path (`at_head.py`) cannot answer.
"""

from __future__ import annotations

from lambda_fn.contract import Status
from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import Deadline
from lambda_fn.engine import watchdog
from lambda_fn.engine.commands import HANDLERS
from lambda_fn.engine.context import Context, Observer, join
from lambda_fn.engine.env_py import HookDatabase
from lambda_fn.engine.project import AlembicProject
from lambda_fn.engine.record import sqlalchemy_ledger
from lambda_fn.engine.target import TargetDatabase
from lambda_fn.log import logger
from lambda_fn.postgres.readiness import Ready
from lambda_fn.request import Command, Request
from lambda_fn.result import Result
from lambda_fn.settings import Settings


def migrate(request: Request, result: Result, settings: Settings, *, deadline: Deadline,
            read_secret: SecretReader | None, application_name: str, observe: Observer | None,
            ready: Ready | None) -> None:
    target = TargetDatabase(settings, deadline, read_secret, application_name, ready)
    _dispatch(request, result, target, observe)


def _dispatch(request: Request, result: Result, target: TargetDatabase, observe: Observer | None) -> None:
    project = AlembicProject(target.settings.alembic_config, target.settings.script_location)
    cmd = request.command
    if cmd is Command.HEADS:
        heads = project.heads()
        result.heads, result.status = list(heads), Status.OK
        result.message = f"head(s): {', '.join(heads)}"
        return
    if cmd in (Command.UPGRADE, Command.DOWNGRADE):
        project.require_single_head()  # before touching the database at all
    creds = target.ready_credentials()
    result.database = creds.describe()
    with target.connect(creds) as conn:
        database = HookDatabase(conn, target.engine, creds, lambda: target.url(creds))
        ctx = Context(request, result, project, target, database, sqlalchemy_ledger(conn, target.settings), observe)
        plan = project.probe(database)  # env.py must migrate this database, and says where its version table is
        watchdog.note_version_table(plan.version_table_schema, plan.version_table)  # for a read back at the deadline
        current = ctx.current()
        result.from_revision = result.to_revision = join(current)
        result.heads = list(project.heads())
        known = all(project.knows(rev) for rev in current)
        result.pending = [s.revision for s in project.pending(current)] if known else []
        logger.info("Migration status before", extra={"current": list(current), "heads": result.heads,
                                                       "pending": result.pending, "command": cmd.value})
        if cmd is not Command.STAMP:
            project.check_known(current)
        HANDLERS[cmd](ctx, current)

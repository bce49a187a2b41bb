"""`execute(request, settings, ...) -> Result`: the one entry into the engine, for every caller.

Never raises: every outcome is a `Result`.
"""

from __future__ import annotations

import time

from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import Deadline
from lambda_fn.engine.commands import HANDLERS
from lambda_fn.engine.context import Context, Observer, join, ms
from lambda_fn.engine.environment import HookDatabase
from lambda_fn.engine.project import AlembicProject
from lambda_fn.engine.target import TargetDatabase
from lambda_fn.errors import ErrorKind, HookError
from lambda_fn.log import logger
from lambda_fn.request import Command, Request
from lambda_fn.result import Result, Status
from lambda_fn.settings import Settings


def execute(request: Request, settings: Settings, *, deadline: Deadline | None = None,
            read_secret: SecretReader | None = None, application_name: str | None = None,
            observe: Observer | None = None) -> Result:
    """Run one command. `observe` hears each revision start and finish (the CLI's progress)."""
    started = time.monotonic()
    result = Result(command=request.command.value, status=Status.FAILED, target=request.revision)
    try:
        request.validate()
        if request.command is Command.UPGRADE and settings.skip_migrations:
            result.status, result.message = Status.SKIPPED, "SKIP_MIGRATIONS is set: the database was not touched."
            logger.warning(result.message)
        else:
            target = TargetDatabase(settings, deadline or Deadline(), read_secret,
                                    application_name or settings.application_name)
            _dispatch(request, result, target, observe)
    except HookError as exc:
        result.fail(exc)
    except Exception as exc:  # noqa: BLE001 - the contract is one Result, whatever happens
        logger.exception("Unexpected failure")
        result.fail(HookError(ErrorKind.INTERNAL, f"Unexpected {type(exc).__name__}: {str(exc)[:300]}. "
                              "This is a bug in the hook; the logs hold the traceback."))
    result.duration_ms = ms(time.monotonic() - started)
    log = logger.info if result.ok else logger.error
    log("Migration run finished", extra={"result": result.to_dict()})
    return result


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
        ctx = Context(request, result, project, target, database, observe)
        project.probe(database)  # env.py must migrate this database, and says where its version table is
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

"""`execute(request, settings, ...) -> Result`: the one entry into the engine, for every caller.

Light on purpose: it imports neither SQLAlchemy nor Alembic. "Already at head" is answered by the fast path
(`at_head.py`); everything else loads the full path (`migrate.py`) on demand. Never raises: every outcome is
a `Result`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from lambda_fn.contract import ErrorKind, Status
from lambda_fn.credentials import SecretReader
from lambda_fn.deadline import Deadline
from lambda_fn.engine import at_head, watchdog
from lambda_fn.engine.answer import Outcome, Skipped, Stopped, give
from lambda_fn.errors import HookError
from lambda_fn.log import logger
from lambda_fn.request import Command, Request
from lambda_fn.result import Result, StepEvent
from lambda_fn.settings import Settings


def execute(
    request: Request,
    settings: Settings,
    *,
    deadline: Deadline | None = None,
    read_secret: SecretReader | None = None,
    application_name: str | None = None,
    observe: Callable[[StepEvent], None] | None = None,
    fast: bool = True,
) -> Result:
    """Run one command. `observe` hears each revision start and finish (the CLI's progress); `fast=False`
    skips the fast path (the tests compare both)."""
    started = time.monotonic()
    result = Result(command=request.command.value, status=Status.FAILED, target=request.revision)
    deadline = deadline or Deadline()
    # a workflow's iteration: its own budget inside the invocation's
    if request.budget_seconds is not None:
        deadline = deadline.sub(request.budget_seconds)
    if request.database is not None:  # one database of a fleet
        settings = replace(
            settings,
            secret_id=request.database.secret_arn,
            db_host=request.database.host or settings.db_host,
            db_name=request.database.name or settings.db_name,
        )
    result.snapshot = request.snapshot
    application_name = application_name or settings.application_name

    def work(into: Result) -> None:
        _run(
            request,
            into,
            settings,
            deadline=deadline,
            read_secret=read_secret,
            application_name=application_name,
            observe=watchdog.observing(observe),
            fast=fast,
        )

    # the time in a revision's own Python is bounded too: at the deadline the run is stopped and answered
    result = watchdog.run_bounded(work, result, deadline)
    result.duration_ms = round((time.monotonic() - started) * 1000, 1)
    log = logger.info if result.ok else logger.error
    log("Migration run finished", extra={"result": result.to_dict()})
    return result


def _run(
    request: Request,
    result: Result,
    settings: Settings,
    *,
    deadline: Deadline,
    read_secret: SecretReader | None,
    application_name: str,
    observe: Callable[[StepEvent], None],
    fast: bool,
) -> None:
    outcome: Outcome | None
    try:
        request.validate()
        if request.command is Command.UPGRADE and settings.skip_migrations:
            outcome = Skipped()
        else:
            outcome, ready = (
                at_head.answer(
                    request,
                    result,
                    settings,
                    deadline=deadline,
                    read_secret=read_secret,
                    application_name=application_name,
                )
                if fast
                else (None, None)
            )
            if outcome is None:
                from lambda_fn.engine.migrate import migrate  # the full engine, only when needed

                outcome = migrate(
                    request,
                    result,
                    settings,
                    deadline=deadline,
                    read_secret=read_secret,
                    application_name=application_name,
                    observe=observe,
                    ready=ready,
                )
    except HookError as exc:
        if not (request.partial and exc.kind is ErrorKind.DEADLINE):
            result.fail(exc)
            return
        # a budgeted iteration that ran out of time before it could start (a slow cold start, say) has done
        # nothing wrong: the caller calls again
        outcome = Stopped(exc.message)
    except Exception as exc:  # noqa: BLE001 - the contract is one Result, whatever happens
        logger.exception("Unexpected failure")
        result.fail(
            HookError(
                ErrorKind.INTERNAL,
                f"Unexpected {type(exc).__name__}: {str(exc)[:300]}. "
                "This is a bug in the hook; the logs hold the traceback.",
            )
        )
        return
    give(result, outcome)

"""`alembic-hook`: the same engine from a laptop, CI, or an operator's shell.

    alembic-hook [--config INI] [--database-url URL | --secret-id ID] [--json] [-v] VERB [VERB'S OPTIONS]

What every verb shares (where the project is, which database, how to print) goes before the verb; each verb
takes only its own options, and an option of another verb is a usage error (exit 2). `--json` and `-v` are
accepted after the verb too. `alembic-hook VERB --help` lists a verb's options.

`lint [START:END | REV]` runs the safety gate offline (no database): squawk and the hook's checks over each
revision's rendered SQL, exit 1 when a finding refuses; `--format github` prints annotations for a pull
request. A deploy applies the same gate, judged against the live database, before any DDL.

`check` tells whether a deploy would migrate this database: it runs env.py up to its configure() (nothing is
applied), reads the version table env.py uses, imports every revision, and exits 1 with the fix when not.

Adding a verb: one `Verb(...)` in `VERBS` below (its name, help, options and what it runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lambda_fn.cli.render import github_annotations, progress, render
from lambda_fn.contract import ResultWire, as_result, failed
from lambda_fn.request import SKIP_LINT_CONFIRMATION, Command, Request

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
Options = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace, dict[str, str]], int]


# -- each verb's own options -------------------------------------------------------------------------------


def _revision(required: bool, what: str) -> Options:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("revision", nargs=None if required else "?", help=what)

    return add


def _yes(what: str) -> Options:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--yes", action="store_true", help=f"confirm the {what}")

    return add


def _format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default=None,
        help="output: text (default), json (= --json), github (the findings as GitHub Actions annotations)",
    )


def _progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show each revision as it starts and finishes on stderr (default: when stderr is a terminal)",
    )


def _skip_gate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-lint",
        metavar="REASON",
        default=None,
        help="upgrade without the safety gate (needs --confirm-no-lint; the reason is logged and kept "
        "in the result). Prefer acknowledging the finding in the revision",
    )
    p.add_argument(
        "--confirm-no-lint",
        action="store_true",
        help="confirm upgrading without the safety gate (its own confirmation: --yes is for downgrade "
        "and stamp)",
    )


def _rehearse_options(p: argparse.ArgumentParser) -> None:
    from lambda_fn.cli.rehearse import add_arguments

    add_arguments(p)
    p.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default=None,
        help="output: text (default), json (= --json), markdown (a GitHub step summary or PR comment)",
    )


def _run_rehearse(ns: argparse.Namespace, env: dict[str, str]) -> int:
    # the pending revisions measured on a copy (docs/rehearsal.md)
    from lambda_fn.cli.rehearse import (
        rehearse_cli,
    )

    return rehearse_cli(ns, env)


def _limit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, default=None, help="how many runs (default 20)")


def _invoke_options(p: argparse.ArgumentParser) -> None:
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--function", help="the deployed function's name or ARN")
    target.add_argument(
        "--workflow",
        help="the migration workflow's state machine ARN (upgrade only): start an "
        "execution and follow it to the end",
    )
    p.add_argument(
        "remote", nargs="*", metavar="COMMAND [REV]", help="the command to send (default upgrade)"
    )
    p.add_argument("--yes", action="store_true", help="confirm a remote downgrade, stamp or accept")
    p.add_argument("--limit", type=int, default=None, help="with `log`: how many runs")
    _skip_gate(p)
    _format(p)
    p.add_argument(
        "--snapshot",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="with --workflow: take the pre-migration snapshot (default: as the workflow is built)",
    )
    p.add_argument(
        "--wait-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --workflow: stop following after this long (the execution goes on)",
    )
    from lambda_fn.cli.rehearse import add_remote_arguments

    add_remote_arguments(p)  # rehearse: the copy, forwarded as the event's "copy"


@dataclass(frozen=True)
class Verb:
    name: str
    help: str
    options: Sequence[Options] = ()
    run: Run | None = None  # None: the engine runs Command(name) against the database


def _run_lint(ns: argparse.Namespace, env: dict[str, str]) -> int:
    # offline: the migrations alone, no database (CI on a PR)
    from lambda_fn.cli.lint_offline import (
        lint_offline_cli,
    )

    return _print(lint_offline_cli(env, ns.revision), ns)


def _run_invoke(ns: argparse.Namespace, env: dict[str, str]) -> int:
    if ns.workflow:
        return _invoke_workflow(ns)
    from lambda_fn.cli.rehearse import remote_copy, text
    from lambda_fn.cli.remote import invoke_function  # boto3 only on this path

    payload = _payload(ns)
    copy = remote_copy(ns, payload["command"]) if isinstance(payload, dict) else None
    if isinstance(payload, str) or isinstance(copy, str):
        return _usage(ns, str(copy if isinstance(copy, str) else payload))
    if copy is not None:
        payload["copy"] = copy  # rehearse: where the function runs the pending revisions
    result = invoke_function(ns.function, payload)
    if copy is not None and not ns.json and ns.format in (None, "text"):
        print(text(result))  # the table per revision, as the local rehearse prints it
        return EXIT_FAILED if failed(result) else EXIT_OK
    return _print(result, ns)


VERBS: tuple[Verb, ...] = (
    Verb("status", "where the database is and what a deploy would apply"),
    Verb(
        "check", "whether a deploy would migrate this database (env.py, version table, revisions)"
    ),
    Verb(
        "upgrade",
        "apply the pending revisions (behind the safety gate)",
        (_revision(False, "target revision (default head)"), _skip_gate, _format, _progress),
    ),
    Verb(
        "downgrade",
        "step the schema back (confirmed with --yes)",
        (
            _revision(True, "target revision, 'base', or relative like -1"),
            _yes("downgrade"),
            _progress,
        ),
    ),
    Verb(
        "stamp",
        "record a revision without running it (confirmed with --yes)",
        (_revision(True, "the revision to record"), _yes("stamp")),
    ),
    Verb(
        "accept",
        "record a deliberate edit of an applied revision in the ledger (confirmed with --yes)",
        (_revision(True, "the edited revision"), _yes("acceptance")),
    ),
    Verb("current", "the database's current revision"),
    Verb("heads", "the project's heads"),
    Verb("history", "the revisions, newest first"),
    Verb(
        "sql",
        "the SQL an upgrade would run (offline)",
        (_revision(False, "target revision (default head)"),),
    ),
    Verb("log", "the ledger: runs and revisions, newest first", (_limit,)),
    Verb(
        "lint",
        "the safety gate offline: findings on the revisions, no database",
        (_revision(False, "a revision or START:END (default: every revision)"), _format),
        run=_run_lint,
    ),
    Verb(
        "rehearse",
        "run the pending revisions on a copy of the database and measure their locks and rewrites",
        (_revision(False, "target revision (default head)"), _rehearse_options),
        run=_run_rehearse,
    ),
    Verb(
        "invoke",
        "send a command to the deployed function, or start and follow the migration workflow",
        (_invoke_options,),
        run=_run_invoke,
    ),
)


# -- the parser ----------------------------------------------------------------------------------------------


def _output(p: argparse.ArgumentParser, *, after_verb: bool) -> None:
    # after the verb: SUPPRESS, so a verb that does not repeat them keeps what was given before it
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if after_verb else {}
    p.add_argument("--json", action="store_true", help="print the result object as JSON", **default)
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the engine's log lines on stderr",
        **default,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="alembic-hook",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config", help="path to alembic.ini (default: $ALEMBIC_CONFIG or ./alembic.ini)"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--database-url", help="PostgreSQL URL (any driver suffix; sslmode=... honoured)"
    )
    source.add_argument(
        "--secret-id", help="Secrets Manager secret (RDS/CDK JSON) holding the credentials"
    )
    _output(p, after_verb=False)
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        sub = verbs.add_parser(verb.name, help=verb.help, description=verb.help)
        for add in verb.options:
            add(sub)
        _output(sub, after_verb=True)
        sub.set_defaults(_verb=verb, _parser=sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        ns, foreign = _parser().parse_known_args(argv)
        if foreign:  # another verb's option: the usage of the verb it was given to, exit 2
            ns._parser.error(f"unrecognized arguments: {' '.join(foreign)}")
    except (
        SystemExit
    ) as exc:  # returned, not raised: callers (and tests) get the exit code from main()
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    verb: Verb = ns._verb
    env = dict(os.environ)
    if ns.config:
        env["ALEMBIC_CONFIG"] = ns.config
    if ns.database_url:
        env.pop("DB_SECRET_ARN", None)
        env["DATABASE_URL"] = ns.database_url
    if ns.secret_id:
        env["DB_SECRET_ARN"] = ns.secret_id
    with _quiet_logs(ns.verbose):
        return verb.run(ns, env) if verb.run is not None else _run_engine(ns, env)


def _run_engine(ns: argparse.Namespace, env: dict[str, str]) -> int:
    # the engine loads after argument parsing: `--help` stays fast
    from lambda_fn.engine.execute import (
        execute,
    )
    from lambda_fn.engine.ledger import cli_origin
    from lambda_fn.errors import HookError
    from lambda_fn.settings import Settings

    try:
        settings = Settings.from_env(env)
        request = Request(
            Command.parse(ns.verb),
            getattr(ns, "revision", None),
            confirmed=getattr(ns, "yes", False),
            skip_lint=getattr(ns, "no_lint", None),
            skip_lint_confirmed=getattr(ns, "confirm_no_lint", False),
            origin=cli_origin(),
            limit=getattr(ns, "limit", None),
        )
    except HookError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    reader = None
    if settings.secret_id:
        from lambda_fn.aws.secrets import powertools_secret_reader

        reader = powertools_secret_reader()
    chosen = getattr(ns, "progress", None)
    show = sys.stderr.isatty() if chosen is None else chosen
    from lambda_fn.cli.stdout import to_stderr

    with to_stderr():  # whatever the project prints while it runs is not the result
        result = as_result(
            execute(
                request, settings, read_secret=reader, observe=progress if show else None
            ).to_dict()
        )
    return _print(result, ns)


def _usage(ns: argparse.Namespace, message: str) -> int:
    parser: argparse.ArgumentParser = ns._parser
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _invoke_workflow(ns: argparse.Namespace) -> int:
    from lambda_fn.cli.workflow import DEFAULT_WAIT, run_workflow  # boto3 only on this path

    command = ns.remote[0] if ns.remote else "upgrade"
    from lambda_fn.cli.rehearse import REMOTE_FLAGS

    if (
        command != "upgrade"
        or len(ns.remote) > 2
        or ns.yes
        or ns.limit is not None
        or ns.no_lint is not None
        or any(getattr(ns, flag) is not None for flag in REMOTE_FLAGS)
    ):
        return _usage(
            ns,
            "invoke --workflow ARN takes: upgrade [REV] [--no-snapshot] [--wait-timeout SECONDS] "
            "(the workflow only upgrades; use --function for the function's other commands)",
        )
    return run_workflow(
        ns.workflow,
        revision=ns.remote[1] if len(ns.remote) > 1 else None,
        snapshot=ns.snapshot,
        wait_seconds=ns.wait_timeout or DEFAULT_WAIT,
        as_json=ns.json or ns.format == "json",
    )


def _payload(ns: argparse.Namespace) -> dict[str, Any] | str:
    """The direct-invoke payload the function takes for these arguments, or why they do not fit together."""
    command = ns.remote[0] if ns.remote else "upgrade"
    if len(ns.remote) > 2:
        return f"invoke sends one command and at most one revision, not {' '.join(ns.remote)!r}"
    if ns.snapshot is not None or ns.wait_timeout is not None:
        return "--snapshot and --wait-timeout go with --workflow"
    if ns.limit is not None and command != "log":
        return "--limit goes with the log command"
    if (ns.no_lint is not None or ns.confirm_no_lint) and command != "upgrade":
        return "--no-lint and --confirm-no-lint go with the upgrade command"
    if ns.yes and command not in ("downgrade", "stamp", "accept"):
        return "--yes confirms downgrade, stamp or accept; skipping the gate has its own --confirm-no-lint"
    payload: dict[str, Any] = {"command": command}
    if len(ns.remote) > 1:
        payload["revision"] = ns.remote[1]
    if ns.yes:
        payload["confirm"] = command
    if ns.limit is not None:
        payload["limit"] = ns.limit
    if ns.no_lint is not None:  # the function's own escape: reason plus its confirmation word
        payload["no_lint"] = ns.no_lint
        if ns.confirm_no_lint:
            payload["confirm"] = SKIP_LINT_CONFIRMATION
    return payload


@contextmanager
def _quiet_logs(verbose: bool) -> Iterator[None]:
    """The result is printed anyway; log lines are for -v. The level is put back afterwards, so a program (or
    a test) that calls main() in-process keeps its own logging."""
    from lambda_fn.log import logger

    before = logger.log_level
    logger.setLevel(logging.INFO if verbose else logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def _print(result: ResultWire, ns: argparse.Namespace) -> int:
    chosen = getattr(ns, "format", None)
    ok = not failed(result)
    if chosen == "github":
        print(github_annotations(result))
    elif ns.json or chosen == "json":
        print(json.dumps(result, indent=2, default=str))
    else:
        print(render(result))
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

"""`alembic-hook`: the same engine from a laptop, CI, or an operator's shell.

    alembic-hook [--config alembic.ini] [--database-url URL | --secret-id ID] COMMAND [REV] [--yes] [--json]
    alembic-hook invoke --function NAME [COMMAND] [REV] [--yes] [--json]
    alembic-hook invoke --workflow ARN upgrade [REV] [--no-snapshot] [--wait-timeout SECONDS] [--json]

`lint [START:END | REV]` runs the safety gate offline (no database): squawk and the hook's checks over each
revision's rendered SQL, exit 1 when a finding refuses; `--format github` prints annotations for a pull
request. A deploy applies the same gate, judged against the live database, before any DDL.

`check` tells whether a deploy would migrate this database: it runs env.py up to its configure() (nothing is
applied), reads the version table env.py uses, imports every revision, and exits 1 with the fix when not.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from lambda_fn.cli.rehearse import add_arguments as rehearse_arguments
from lambda_fn.cli.render import github_annotations, progress, render
from lambda_fn.request import SKIP_LINT_CONFIRMATION, Command, Request
from lambda_fn.result import Status

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alembic-hook", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="path to alembic.ini (default: $ALEMBIC_CONFIG or ./alembic.ini)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--database-url", help="PostgreSQL URL (any driver suffix; sslmode=... honoured)")
    source.add_argument("--secret-id", help="Secrets Manager secret (RDS/CDK JSON) holding the credentials")
    p.add_argument("--function", help="with `invoke`: the deployed function's name or ARN")
    p.add_argument("--workflow", help="with `invoke`: the migration workflow's state machine ARN (upgrade only): "
                                      "start an execution and follow it to the end")
    p.add_argument("--snapshot", action=argparse.BooleanOptionalAction, default=None,
                   help="with `invoke --workflow`: take the pre-migration snapshot (default: as the workflow is built)")
    p.add_argument("--wait-timeout", type=float, default=None, metavar="SECONDS",
                   help="with `invoke --workflow`: stop following after this long (the execution goes on)")
    p.add_argument("--yes", action="store_true", help="confirm a downgrade or stamp")
    p.add_argument("--json", action="store_true", help="print the result object as JSON")
    p.add_argument("--format", choices=("text", "json", "github", "markdown"), default=None,
                   help="output: text (default), json (= --json), github (the findings as GitHub Actions annotations)")
    p.add_argument("--no-lint", metavar="REASON", default=None,
                   help="upgrade without the safety gate (needs --yes; the reason is logged and kept in the result)")
    p.add_argument("--limit", type=int, default=None, help="with `log`: how many runs (default 20)")
    rehearse_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="show the engine's log lines on stderr")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show each revision as it starts and finishes on stderr (default: when stderr is a terminal)")
    p.add_argument("command", help="status | check | upgrade | downgrade | stamp | current | heads | history | sql "
                                   "| lint | log | accept | rehearse | invoke")
    p.add_argument("args", nargs="*", help="the target revision (and, for invoke, the command to send)")
    return p


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - one return per verb
    # intermixed: options may follow the positionals (`invoke --function NAME status --json`)
    ns = _parser().parse_intermixed_args(argv)
    if ns.command == "invoke" and ns.workflow:
        return _invoke_workflow(ns)
    if ns.command == "invoke":
        from lambda_fn.cli.remote import invoke_function  # boto3 only on this path

        if not ns.function:
            print("invoke needs --function NAME", file=sys.stderr)
            return EXIT_USAGE
        return _print(invoke_function(ns.function, _payload(ns)), ns.json or ns.format == "json",
                      github=ns.format == "github")

    env = dict(os.environ)
    if ns.config:
        env["ALEMBIC_CONFIG"] = ns.config
    if ns.database_url:
        env.pop("DB_SECRET_ARN", None)
        env["DATABASE_URL"] = ns.database_url
    if ns.secret_id:
        env["DB_SECRET_ARN"] = ns.secret_id
    _quiet_logs(ns.verbose)
    ns.json = ns.json or ns.format == "json"
    github = ns.format == "github"
    if ns.command == "lint":  # offline: the migrations alone, no database (CI on a pull request)
        from lambda_fn.cli.lint import lint_offline_cli

        return _print(lint_offline_cli(env, ns.args[0] if ns.args else None), ns.json, github=github)

    if ns.command == "rehearse":  # the pending revisions measured on a copy (docs/rehearsal.md)
        from lambda_fn.cli.rehearse import rehearse_cli

        return rehearse_cli(ns, env)

    from lambda_fn.engine.execute import execute  # the engine loads after argument parsing: `--help` stays fast
    from lambda_fn.engine.ledger import cli_origin
    from lambda_fn.errors import HookError
    from lambda_fn.settings import Settings

    try:
        settings = Settings.from_env(env)
        request = Request(Command.parse(ns.command), ns.args[0] if ns.args else None, confirmed=ns.yes,
                          skip_lint=ns.no_lint, skip_lint_confirmed=ns.yes, origin=cli_origin(), limit=ns.limit)
    except HookError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    reader = None
    if settings.secret_id:
        from lambda_fn.aws.secrets import powertools_secret_reader

        reader = powertools_secret_reader()
    show = sys.stderr.isatty() if ns.progress is None else ns.progress
    return _print(execute(request, settings, read_secret=reader, observe=progress if show else None).to_dict(),
                  ns.json, github=github)


def _invoke_workflow(ns: argparse.Namespace) -> int:
    from lambda_fn.cli.workflow import DEFAULT_WAIT, run_workflow  # boto3 only on this path

    command = ns.args[0] if ns.args else "upgrade"
    if ns.function or command != "upgrade" or len(ns.args) > 2:
        print("invoke --workflow ARN takes: upgrade [REV] (the workflow only upgrades; use --function for the "
              "function's other commands)", file=sys.stderr)
        return EXIT_USAGE
    return run_workflow(ns.workflow, revision=ns.args[1] if len(ns.args) > 1 else None, snapshot=ns.snapshot,
                        wait_seconds=ns.wait_timeout or DEFAULT_WAIT, as_json=ns.json or ns.format == "json")


def _payload(ns: argparse.Namespace) -> dict[str, Any]:
    """The direct-invoke payload the function takes for these arguments."""
    command = ns.args[0] if ns.args else "upgrade"
    payload: dict[str, Any] = {"command": command}
    if len(ns.args) > 1:
        payload["revision"] = ns.args[1]
    if ns.yes:
        payload["confirm"] = command
    if ns.limit is not None:
        payload["limit"] = ns.limit
    if ns.no_lint is not None:  # the function's own escape: reason plus its confirmation word
        payload["no_lint"] = ns.no_lint
        if ns.yes:
            payload["confirm"] = SKIP_LINT_CONFIRMATION
    return payload


def _quiet_logs(verbose: bool) -> None:
    from lambda_fn.log import logger

    # the result is printed anyway; log lines are for -v
    logger.setLevel(logging.INFO if verbose else logging.CRITICAL)


def _print(result: dict[str, Any], as_json: bool, *, github: bool = False) -> int:
    ok = result.get("status") != Status.FAILED.value
    if github:
        print(github_annotations(result))
    elif as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(render(result))
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

"""The CLI's shape: each verb takes only its own options (another verb's is a usage error, exit 2), the
shared options go before the verb, `--json`/`-v` work on either side, and skipping the safety gate has its
own confirmation. Run through the installed console script, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_fn.cli.main import VERBS, main
from lambda_fn.contract import Status
from lambda_fn.request import Command

CLI = str(Path(sys.executable).parent / "alembic-hook")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "foreign"),
    [
        (["upgrade", "--limit", "3"], "--limit"),
        (["status", "--no-lint", "because"], "--no-lint"),
        (["status", "--yes"], "--yes"),
        (["upgrade", "--yes"], "--yes"),
        (["log", "--format", "github"], "--format"),
        (["stamp", "head", "--progress"], "--progress"),
        (["lint", "--function", "fn"], "--function"),
    ],
)
def test_a_verb_refuses_another_verbs_option_with_usage(
    tmp_path: Path, args: list[str], foreign: str
) -> None:
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"usage: alembic-hook {args[0]}"), done.stderr
    assert f"unrecognized arguments: {foreign}" in done.stderr
    assert done.stdout == ""


def test_an_unknown_verb_is_a_usage_error(tmp_path: Path) -> None:
    done = run("migrate", cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice: 'migrate'" in done.stderr


def test_shared_options_before_the_verb_and_output_options_on_either_side(tmp_path: Path) -> None:
    """`--config` before the verb reaches the engine (a missing ini is its error, as JSON on stdout), and
    `--json` is honoured before and after the verb; `--config` after the verb is not the verb's option."""
    missing = tmp_path / "nowhere.ini"
    for args in (
        ["--config", str(missing), "--json", "heads"],
        ["--config", str(missing), "heads", "--json"],
        ["--config", str(missing), "-v", "heads", "--json", "-v"],
    ):
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == Status.FAILED and str(missing) in json.dumps(result)
    after = run("heads", "--config", str(missing), cwd=tmp_path)
    assert after.returncode == 2 and "unrecognized arguments: --config" in after.stderr
    both = run("--database-url", "postgresql://x/y", "--secret-id", "s", "status", cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_skipping_the_gate_needs_its_own_confirmation_not_yes(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.ini"
    with_yes = run(
        "--config", str(missing), "upgrade", "--no-lint", "reviewed", "--yes", cwd=tmp_path
    )
    assert with_yes.returncode == 2 and "unrecognized arguments: --yes" in with_yes.stderr
    unconfirmed = run(
        "--config", str(missing), "--json", "upgrade", "--no-lint", "reviewed", cwd=tmp_path
    )
    assert unconfirmed.returncode == 1
    error = json.loads(unconfirmed.stdout)["error"]
    assert error["kind"] == "confirmation_required" and "--confirm-no-lint" in error["message"]


def test_invoke_checks_the_remote_commands_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "--function", "fn", "status", "--limit", "3"]) == 2
    assert "--limit goes with the log command" in capsys.readouterr().err
    assert main(["invoke", "--function", "fn", "upgrade", "--yes"]) == 2
    assert "--confirm-no-lint" in capsys.readouterr().err
    assert main(["invoke", "status"]) == 2  # a target is required
    assert "one of the arguments --function --workflow is required" in capsys.readouterr().err


def test_every_engine_command_is_a_verb() -> None:
    """A command the engine knows but the CLI does not offer would be unreachable from a shell."""
    assert {c.value for c in Command} <= {v.name for v in VERBS}

"""squawk (PyPI `squawk-cli`): a Rust binary, run as a subprocess over one SQL file per revision with the JSON
reporter. One file per revision because a syntax error makes squawk check nothing else in its file.

Where the binary is: $ALEMBIC_HOOK_SQUAWK, else beside the running Python (a virtualenv's bin/), else PATH.
The Lambda asset does not ship it: the build lints every revision (alembic_hook_lint.json), see store.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError

ENV_VAR = "ALEMBIC_HOOK_SQUAWK"


@dataclass(frozen=True)
class Violation:
    rule: str
    line: int  # 0-based, as squawk's JSON gives it
    message: str
    help: str | None


def find() -> str | None:
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    beside = Path(sys.executable).parent / "squawk"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("squawk")


def identity(binary: str) -> str:
    """What the temp-dir cache keys on: the binary's size and mtime (no subprocess for --version)."""
    st = os.stat(binary)
    return f"{st.st_size}-{int(st.st_mtime)}"


def version(binary: str) -> str:
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout.strip().removeprefix("squawk ").strip() or "unknown"


def lint(
    binary: str, files: Mapping[str, str], *, pg_version: str, timeout: float
) -> dict[str, list[Violation]]:
    """{name: SQL} -> {name: violations}. Raises HookError (internal) when squawk itself fails."""
    out: dict[str, list[Violation]] = {name: [] for name in files}
    if not files:
        return out
    with tempfile.TemporaryDirectory(prefix="alembic-hook-lint-") as tmp:
        root = Path(tmp)
        names: dict[str, str] = {}  # file name -> the caller's name
        for i, (name, sql) in enumerate(files.items()):
            file = f"r{i:05d}.sql"
            (root / file).write_text(sql)
            names[file] = name
        # our own config file: no .squawk.toml found by walking up from somewhere decides the verdict
        (root / "squawk.toml").write_text(
            f'pg_version = "{pg_version}"\nassume_in_transaction = false\n'
        )
        try:
            done = subprocess.run(
                [binary, "--config", "squawk.toml", "--reporter", "json", *names],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HookError(
                ErrorKind.DEADLINE, f"squawk did not finish within {timeout:.0f} s."
            ) from None
        except OSError as exc:
            raise HookError(ErrorKind.INTERNAL, f"squawk could not run ({binary}): {exc}") from None
    if done.returncode not in (0, 1):
        raise HookError(
            ErrorKind.INTERNAL,
            f"squawk failed (exit {done.returncode}): {done.stderr.strip()[:300]}",
        )
    try:
        reported = json.loads(done.stdout)
    except ValueError:
        reported = None
    # exit 1 means findings; exit 1 with none (a config error) must never read as "clean"
    if not isinstance(reported, list) or (done.returncode == 1 and not reported):
        raise HookError(
            ErrorKind.INTERNAL,
            f"squawk gave no findings list (exit {done.returncode}): {done.stderr.strip()[:300]}",
        )
    for item in reported:
        owner = names.get(Path(str(item.get("file", ""))).name)
        if owner is None:
            continue
        out[owner].append(
            Violation(
                str(item.get("rule_name")),
                int(item.get("line") or 0),
                str(item.get("message") or ""),
                item.get("help"),
            )
        )
    return out

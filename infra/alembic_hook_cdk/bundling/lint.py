"""The safety gate's build step: ``python -m lambda_fn.cli.lint_manifest`` in a subprocess (like the heads
manifest) writes ``alembic_hook_lint.json`` next to env.py, so the function lints nothing at run time and
ships no squawk binary (24.8 MB unpacked, which would more than double the zipped asset).

The squawk binary comes from the build host: the dev dependency ``squawk-cli`` in the project's virtualenv
(found beside the Python running the build), or ``$ALEMBIC_HOOK_SQUAWK``. Without it the asset is still
built, and loudly: a pending revision missing from the file is then refused at deploy time
(``hook:lint-unavailable``) unless acknowledged.
"""

from __future__ import annotations

from pathlib import Path

from alembic_hook_cdk.bundling.heads import run_project_module
from alembic_hook_cdk.bundling.layout import ALEMBIC_INI, MIGRATIONS_DIR
from alembic_hook_cdk.bundling.spec import HookBundleSpec
from alembic_hook_cdk.bundling.tools import BundlingError, Log, log_to_stderr

LINT_MANIFEST = f"{MIGRATIONS_DIR}/alembic_hook_lint.json"


def lint_revisions(hook_root: Path, alembic_ini: Path, script_location: Path, extra_source_dirs: tuple[Path, ...] = (),
                   *, write: bool = False) -> dict[str, object]:
    """Lint every revision (`lambda_fn.cli.lint_manifest`, run like the heads manifest)."""
    return run_project_module("lambda_fn.cli.lint_manifest", hook_root, alembic_ini, script_location,
                              extra_source_dirs, write=write)


def write_lint_manifest(spec: HookBundleSpec, output_dir: Path, *, log: Log = log_to_stderr) -> None:
    try:
        summary = lint_revisions(spec.hook_root, output_dir / ALEMBIC_INI, output_dir / MIGRATIONS_DIR,
                                 spec.extra_source_dirs, write=True)
    except BundlingError as exc:
        log(f"LINT MANIFEST SKIPPED: {exc}. Pending revisions will be refused at deploy time "
            "(hook:lint-unavailable) unless acknowledged; install squawk-cli on the build host.")
        return
    log(f"lint manifest: {summary['revisions']} revisions, {summary['findings']} raw findings, "
        f"squawk {summary['squawk']}")

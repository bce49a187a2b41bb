"""The safety gate's build step: ``python -m lambda_fn.cli.build_lint`` in a subprocess (like the heads
manifest) writes ``alembic_hook_lint.json`` next to env.py, so the function lints nothing at run time and
ships no squawk binary (24.8 MB unpacked, which would more than double the zipped asset).

The squawk binary comes from the build host: ``squawk-cli`` is a dependency of the distribution, so it sits
beside the Python running the build (or ``$ALEMBIC_HOOK_SQUAWK`` names one). Without it the build stops with
the install instruction: an asset that cannot judge its revisions is never built.
"""

from __future__ import annotations

from pathlib import Path

from alembic_hook_cdk.bundling.heads import run_project_module
from alembic_hook_cdk.bundling.layout import ALEMBIC_INI, MIGRATIONS_DIR
from alembic_hook_cdk.bundling.tools import BundlingError, Log, log_to_stderr

LINT_MANIFEST = f"{MIGRATIONS_DIR}/alembic_hook_lint.json"
INSTALL_SQUAWK = ("pip install squawk-cli==2.70.0 into the environment that runs the CDK app (it comes with "
                  "`pip install alembic-deploy-hook`), or set $ALEMBIC_HOOK_SQUAWK to a squawk binary")


def linter_version() -> str | None:
    """The version of the squawk the build would lint with, or None when there is none."""
    from lambda_fn.engine.gate import squawk

    binary = squawk.find()
    return None if binary is None else squawk.version(binary)


def lint_revisions(alembic_ini: Path, script_location: Path, extra_source_dirs: tuple[Path, ...] = (),
                   *, handler_source: Path | None = None, write: bool = False) -> dict[str, object]:
    """Lint every revision (`lambda_fn.cli.build_lint`, run like the heads manifest)."""
    return run_project_module("lambda_fn.cli.build_lint", alembic_ini, script_location, extra_source_dirs,
                              handler_source=handler_source, write=write)


def write_lint_manifest(output_dir: Path, extra_source_dirs: tuple[Path, ...], *, linter: str | None,
                        handler_source: Path, log: Log = log_to_stderr) -> None:
    if linter is None:
        raise BundlingError(f"no squawk binary to lint the revisions with: {INSTALL_SQUAWK}")
    try:
        summary = lint_revisions(output_dir / ALEMBIC_INI, output_dir / MIGRATIONS_DIR, extra_source_dirs,
                                 handler_source=handler_source, write=True)
    except BundlingError as exc:
        # The revisions could not be read here (say they import a package the build lacks): the function then
        # refuses them (hook:lint-unavailable) and the fix is to make them importable at synth, not to ack.
        log(f"LINT MANIFEST SKIPPED: {exc}. The revisions could not be imported at build time, so the deploy "
            "will refuse them (hook:lint-unavailable): pass the folders they import as extra_source_dirs and "
            "what those need as requirements_file, then synth again.")
        return
    log(f"lint manifest: {summary['revisions']} revisions, {summary['findings']} raw findings, "
        f"squawk {summary['squawk']}")

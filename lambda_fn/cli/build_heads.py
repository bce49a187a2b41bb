"""Build time: the heads manifest of an Alembic project, the one way every build step learns the heads.

    python -m lambda_fn.cli.build_heads ALEMBIC_INI [SCRIPT_LOCATION] [--write]

Prints `{"heads": [...], "fingerprint": "...", "version_table": ...}`; with `--write`, also writes the manifest
next to env.py (what the bundler ships, so a cold start imports neither the revision files nor env.py). The
version table is what env.py names when it configures offline (run here up to that call, nothing else).
Exit 1 with the reason on stderr when the project cannot be read. The CDK construct and the test harness
run this same module as a subprocess, with the service's own folders on PYTHONPATH, so no build step
edits its own `sys.path`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lambda_fn.engine import env_reads, heads_manifest
from lambda_fn.engine.env_py import probe_offline
from lambda_fn.engine.project import AlembicProject
from lambda_fn.errors import HookError


def project_args(argv: list[str] | None, module: str) -> tuple[str, str | None, bool] | None:
    """`ALEMBIC_INI [SCRIPT_LOCATION] [--write]`, the arguments of every build-time entry; None (usage printed)
    when they are not that."""
    args = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in args
    args = [a for a in args if a != "--write"]
    if len(args) not in (1, 2):
        print(f"usage: python -m {module} ALEMBIC_INI [SCRIPT_LOCATION] [--write]", file=sys.stderr)
        return None
    return args[0], args[1] if len(args) == 2 else None, write


def cannot(exc: Exception, doing: str) -> int:
    """A build step that cannot read or lint the project: the reason on stderr (the hook's own message, or the
    exception a revision raised on import, named), exit 1."""
    if isinstance(exc, HookError):
        print(exc.message, file=sys.stderr)
    else:
        print(f"Cannot {doing} the migration scripts: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parsed = project_args(argv, "lambda_fn.cli.build_heads")
    if parsed is None:
        return 2
    ini, script_location, write = parsed
    try:
        project = AlembicProject(ini, script_location)
        heads = tuple(project.script.get_heads())
    except Exception as exc:  # noqa: BLE001 - a revision that fails to import, a cycle: say which
        return cannot(exc, "read")
    # the build's environment: the runtime must match it to trust this
    with env_reads.recorded() as reads:
        versions = probe_offline(project.config, project.script)
    if write:
        heads_manifest.remember(
            project.fingerprint,
            heads,
            Path(project.script.dir) / heads_manifest.HEADS_MANIFEST,
            env_fp=project.env_fingerprint,
            version_table=versions,
            reads=reads,
        )
    print(
        json.dumps(
            {
                "heads": list(heads),
                "fingerprint": project.fingerprint,
                "version_table": versions.qualified() if versions else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

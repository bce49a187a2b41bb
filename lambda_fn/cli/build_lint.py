"""Build time: lint every revision of an Alembic project and record it next to env.py, so the function
judges pending revisions at deploy time without a squawk binary in the asset.

    python -m lambda_fn.cli.build_lint ALEMBIC_INI [SCRIPT_LOCATION] [--write]

Prints `{"revisions": N, "findings": N, "not_reviewable": [...], "squawk": "2.70.0"}`; with `--write`, writes
`alembic_hook_lint.json` (lambda_fn/engine/gate/store.py) beside env.py. Exit 1 with the reason on stderr
when the project cannot be read or no squawk binary is found. Records are keyed by each revision file's
sha256 and the lint profile (PostgreSQL version from [alembic_hook], env.py's bytes), so an edited revision
is simply linted again at run time; nothing here can be stale.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str] | None = None) -> int:
    from lambda_fn.cli.build_heads import cannot, project_args

    parsed = project_args(argv, "lambda_fn.cli.build_lint")
    if parsed is None:
        return 2
    ini, script_location, write = parsed

    from lambda_fn.engine.cache import file_sha256
    from lambda_fn.engine.gate import squawk, store
    from lambda_fn.engine.gate.enforce import policy_of
    from lambda_fn.engine.gate.lint_records import lint_now
    from lambda_fn.engine.gate.render import runs_in_autocommit
    from lambda_fn.engine.project import AlembicProject

    binary = squawk.find()
    if binary is None:
        print(
            f"no squawk binary (pip install squawk-cli, or set {squawk.ENV_VAR})", file=sys.stderr
        )
        return 1
    try:
        project = AlembicProject(ini, script_location)
        policy = policy_of(project)
        scripts = list(reversed(list(project.script.walk_revisions())))
        records = lint_now(
            project.config,
            project.script,
            scripts,
            {s.revision for s in scripts},
            binary=binary,
            pg_version=policy.pg_version,
            timeout=600.0,
        )
    except Exception as exc:  # noqa: BLE001 - a revision that fails to import, a cycle: say which
        return cannot(exc, "lint")
    by_key = {file_sha256(s.path): records[s.revision] for s in scripts}
    version = squawk.version(binary)
    prof = store.profile(
        policy.pg_version, autocommit=runs_in_autocommit(project.config, project.script)
    )
    if write:
        store.write_manifest(project.script.dir, prof, by_key, version)
    print(
        json.dumps(
            {
                "revisions": len(records),
                "findings": sum(len(r.findings) for r in records.values()),
                "not_reviewable": sorted(r.revision for r in records.values() if not r.rendered),
                "squawk": version,
                "profile": prof,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

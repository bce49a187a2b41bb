"""`alembic-hook lint [RANGE]`: the safety gate offline, for a developer and for CI on a pull request.

No database: every blocking finding stays as it is unless the table is created earlier in the same range
(a deploy also judges table sizes against the live catalogue). Exit 1 when a finding refuses.
"""

from __future__ import annotations

from collections.abc import Mapping

from lambda_fn.contract import ResultWire, as_result


def lint_offline_cli(env: Mapping[str, str], spec: str | None) -> ResultWire:
    from lambda_fn.engine.gate.enforce import lint_offline
    from lambda_fn.errors import HookError
    from lambda_fn.result import Result
    from lambda_fn.settings import Settings

    try:
        settings = Settings.from_env(env)
    except HookError as exc:
        return as_result(Result.failure("lint", exc, spec).to_dict())
    return as_result(lint_offline(settings, spec).to_dict())

"""The build-time entries (`python -m lambda_fn.cli.build_heads|build_lint`) on a project they cannot read:
exit 1 with the reason on stderr, which the bundler shows as the build's error."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_fn.cli import build_heads, build_lint
from tests.support.projects import Rev, write_project


def test_a_revision_that_fails_to_import_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = write_project(tmp_path, [Rev("r0000", None)])
    (tmp_path / "migrations" / "versions" / "r0001.py").write_text(
        "revision = 'r0001'\nraise RuntimeError('typo')\n"
    )
    assert build_heads.main([str(ini)]) == 1
    assert (
        capsys.readouterr().err.strip() == "Cannot read the migration scripts: RuntimeError: typo"
    )


def test_the_hooks_own_refusal_is_said_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.ini"
    assert build_heads.main([str(missing)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and not err.startswith("Cannot read")
    # squawk is a dev dependency: this is the project's refusal
    assert build_lint.main([str(missing)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and not err.startswith("Cannot lint")


def test_wrong_arguments_print_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_heads.main([]) == 2
    assert "usage: python -m lambda_fn.cli.build_heads ALEMBIC_INI" in capsys.readouterr().err

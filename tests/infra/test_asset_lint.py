"""The asset's safety-gate verdicts: every revision linted at build time, keyed by the bytes the function
will hash, and no squawk binary shipped."""

from __future__ import annotations

import json
from pathlib import Path

from alembic_hook_cdk.bundling import LINT_MANIFEST, MIGRATIONS_DIR


def test_asset_carries_the_lint_verdicts_and_no_squawk_binary(asset_dir: Path) -> None:
    from lambda_fn.engine.cache import file_sha256
    from lambda_fn.engine.gate import store

    data = json.loads((asset_dir / LINT_MANIFEST).read_text())
    assert data["format"] == store.FORMAT and data["squawk"] == "2.70.0"
    versions = sorted((asset_dir / MIGRATIONS_DIR / "versions").glob("*.py"))
    assert len(versions) == 5
    # keyed by the content the function will see, with the profile the function will compute
    assert set(data["revisions"]) == {file_sha256(p) for p in versions}
    assert data["profile"] == store.profile("14.0")
    assert all(record["rendered"] and record["linted"] for record in data["revisions"].values())
    assert not list(asset_dir.rglob("squawk")) and not (asset_dir / "bin").exists()

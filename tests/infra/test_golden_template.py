"""The example stack's template against the golden copy committed before the infra refactor (issue 7).

``golden/example_stack.template.json`` is ``npx cdk synth`` of ``infra/app.py`` with every 64-hex hash replaced
by ``<asset-hash>`` and dumped with ``json.dumps(indent=1, sort_keys=True)``. The hashes are the function's
asset hash (``HookBundleSpec.fingerprint``, which follows lambda_fn/ and the lock file) and the custom
resource's ``MigrationsFingerprint`` (``FileSystem.fingerprint`` of the migrations): both change with the
sources, not with the construct's code, and ``test_example_template`` checks the fingerprint itself. Anything
else that differs (a logical ID, a property, an IAM statement) fails here. When a change is meant, regenerate
the golden file with ``normalise`` below and say why in the commit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden" / "example_stack.template.json"
HASH = re.compile(r"[0-9a-f]{64}")


def normalise(template: dict[str, Any]) -> Any:
    """The template as the golden file holds it: every 64-hex hash replaced by ``<asset-hash>``."""
    return json.loads(HASH.sub("<asset-hash>", json.dumps(template)))


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two parsed JSON values differ, as readable paths (a whole-template assert is unreadable)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}/{key}: missing" for key in sorted(expected.keys() - actual.keys())]
        found += [f"{path}/{key}: unexpected" for key in sorted(actual.keys() - expected.keys())]
        for key in sorted(expected.keys() & actual.keys()):
            found += differences(expected[key], actual[key], f"{path}/{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        pairs = enumerate(zip(expected, actual, strict=True))
        return [d for i, (e, a) in pairs for d in differences(e, a, f"{path}[{i}]")]
    if expected != actual:
        return [f"{path}: expected {json.dumps(expected)[:300]}, got {json.dumps(actual)[:300]}"]
    return []


def test_example_stack_matches_the_golden_template(template: dict[str, Any]) -> None:
    golden = json.loads(GOLDEN.read_text())
    actual = normalise(template)
    found = differences(golden, actual)
    assert not found, "the example stack's template changed:\n" + "\n".join(found[:50])
    assert actual == golden


def test_differences_name_the_changed_resource() -> None:
    golden = {"Resources": {"Fn": {"Properties": {"Timeout": 900, "Tags": ["a"]}}, "Role": {}}}
    changed = {"Resources": {"Fn": {"Properties": {"Timeout": 899, "Tags": ["a"]}}, "Role2": {}}}
    assert differences(golden, changed) == [
        "/Resources/Role: missing",
        "/Resources/Role2: unexpected",
        "/Resources/Fn/Properties/Timeout: expected 900, got 899",
    ]
    assert normalise({"S3Key": "ab" * 32 + ".zip"}) == {"S3Key": "<asset-hash>.zip"}

"""Living beside the Lambda runtime's boto3: what the runtime provides, and the bounds its botocore imposes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic_hook_cdk.bundling.tools import BundlingError

if TYPE_CHECKING:  # the spec imports this module's RUNTIME_PROVIDED (through requirements)
    from alembic_hook_cdk.bundling.spec import HookBundleSpec

# boto3 and what only boto3 needs. Every Lambda Python runtime provides them.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "urllib3"})
# Packages the bundle shares with the runtime's botocore. /var/task precedes the runtime's site-packages on
# sys.path, so the bundled copy is what botocore imports: it must stay inside botocore's bounds.
BOTOCORE_UPPER_BOUNDS = {"python-dateutil": 3, "jmespath": 2}


def check_runtime_compatibility(spec: HookBundleSpec, packages: dict[str, str]) -> None:
    """Refuse a bundle whose packages the runtime's botocore (used when boto3 comes from the runtime) cannot
    import. ``packages``: distribution name -> version, as ``installed_packages`` reports them."""
    if not spec.boto3_from_runtime:
        return
    for name, bound in BOTOCORE_UPPER_BOUNDS.items():
        version = packages.get(name)
        if version is not None and int(version.split(".")[0]) >= bound:
            raise BundlingError(
                f"{name} {version} is bundled, but the runtime's botocore (boto3 is taken from the runtime) "
                f"needs {name}<{bound}, and /var/task shadows the runtime's copy: pin {name}<{bound} in "
                "pyproject.toml, or bundle boto3 (boto3_from_runtime=False)"
            )

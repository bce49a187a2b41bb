"""The CDK side: ``LocalHookBundler``, the ``ILocalBundling`` that builds the asset on the host (no Docker)."""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling

from alembic_hook_cdk.bundling.build import build_bundle
from alembic_hook_cdk.bundling.spec import HookBundleSpec
from alembic_hook_cdk.bundling.tools import Log, log_to_stderr


@jsii.implements(ILocalBundling)
class LocalHookBundler:
    """CDK local bundling hook. ``try_bundle`` never returns False: the Docker fallback is not supported,
    so a failure raises with the reason instead of silently trying Docker."""

    def __init__(self, spec: HookBundleSpec, *, log: Log = log_to_stderr) -> None:
        self.spec = spec
        self.log = log

    # jsii calls this positionally: (outputDir, options). The keyword-only signature some docs show fails.
    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        build_bundle(self.spec, Path(output_dir), log=self.log)
        return True

"""Docker-free bundling of the migration function's asset.

``PythonFunction`` (aws-lambda-python-alpha) needs Docker, which CI machines and this repository's build
host do not have. Instead ``LocalHookBundler`` (a CDK ``ILocalBundling``) builds the asset on the host:

1. The hook's runtime dependencies, read from the installed distribution's metadata (its dependency closure,
   markers judged for the Lambda's platform, each pinned to the version installed here; never the ``[cdk]``
   extra, never squawk), plus the team's own requirements file for what its ``env.py`` imports. No file of
   a checkout of this project is read.
2. ``uv pip install --target`` for the Lambda's platform and Python, wheels only, no bytecode: the uv
   spelling of ``pip install --platform manylinux2014_<arch> --python-version X.Y --implementation cp
   --only-binary=:all: --no-compile``. uv is used because it evaluates environment markers for the
   target platform (pip evaluates them for the host); the ``[cdk]`` extra installs it. Every build
   subprocess runs from an empty directory of its own with absolute paths.
3. ``lambda_fn/`` (the handler package, as installed), the team's Alembic script directory as ``migrations/`` (not
   ``alembic/``, which would shadow the alembic library) with its ``alembic.ini`` inside, the team's extra
   source folders, and the RDS CA bundle as ``certs/rds-ca-bundle.pem``.
4. Bytecode for the runtime's Python (``compileall --invalidation-mode unchecked-hash``): /var/task is
   read-only on Lambda, so without shipped ``.pyc`` every cold start compiles everything again (measured
   2.6 s instead of 0.9 s). Bytecode is tied to the minor version, so it is compiled by an interpreter of
   exactly the runtime's version; when none is installed the asset ships without bytecode and the build
   says so loudly (``require_bytecode=True`` turns that into an error).

Nothing else goes in: no tests (nor the libraries' test frameworks), caches, console scripts or dev
dependencies. ``hook-bundle.json`` at the
asset root records what was built (Python, platform, bytecode, packages) for whoever inspects the asset.

boto3 is taken from the Lambda runtime by default. Measured with ``python -m infra.measure_asset``
(python3.12, x86_64, bytecode and CA bundle included): 28.1 MB unzipped / 9.4 MB zipped without boto3,
52.5 MB / 26.6 MB with it: boto3+botocore would nearly triple the upload for an SDK every Python runtime
already ships, and the hook calls only long-stable APIs (Secrets Manager GetSecretValue, CodePipeline
PutJob*Result). ``boto3_from_runtime=False`` pins the locked boto3 into the asset instead.

One module per concern; this package re-exports what the construct, the tests and the tools use:

* ``target``: the Lambda Python (version, architecture, wheel platform);
* ``layout``: where things sit in the asset (``/var/task``);
* ``spec``: ``HookBundleSpec``, every input of the build, and its fingerprint (the CDK asset hash);
* ``requirements``: the runtime dependencies from the installed distribution's metadata, pinned;
* ``install``: ``uv pip install --target``, what is removed afterwards, what was installed;
* ``compat``: what the Lambda runtime provides (boto3) and the bounds its botocore imposes;
* ``bytecode``: ``compileall`` with the runtime's Python, and stripping the shared objects' debug info;
* ``heads``: ``read_heads``, the one way build steps learn the Alembic heads, and the asset's heads manifest;
* ``lint``: the safety gate's verdict on every revision (``alembic_hook_lint.json``), so no squawk binary ships;
* ``build``: ``build_bundle``, the steps in order, and the ``hook-bundle.json`` report;
* ``local``: ``LocalHookBundler``, the CDK ``ILocalBundling`` adapter;
* ``files``: what is never bundled nor hashed, copying sources, listing a built asset;
* ``tools``: running and finding the build's tools (uv), the build log and ``BundlingError``.
"""

from __future__ import annotations

from alembic_hook_cdk.bundling.build import BundleReport, build_bundle
from alembic_hook_cdk.bundling.bytecode import compile_bytecode, find_python, find_strip, strip_debug_info
from alembic_hook_cdk.bundling.compat import BOTOCORE_UPPER_BOUNDS, RUNTIME_PROVIDED, check_runtime_compatibility
from alembic_hook_cdk.bundling.files import iter_asset_files
from alembic_hook_cdk.bundling.heads import read_heads, write_heads_manifest
from alembic_hook_cdk.bundling.install import UNUSED_AT_RUNTIME, installed_packages
from alembic_hook_cdk.bundling.layout import (
    ALEMBIC_INI,
    BUNDLE_FORMAT,
    CA_BUNDLE_PATH,
    HANDLER_PACKAGE,
    LAMBDA_TASK_ROOT,
    MANIFEST,
    MIGRATIONS_DIR,
)
from alembic_hook_cdk.bundling.lint import LINT_MANIFEST, lint_revisions, linter_version, write_lint_manifest
from alembic_hook_cdk.bundling.local import LocalHookBundler
from alembic_hook_cdk.bundling.requirements import DISTRIBUTION, requirement_name, runtime_requirements
from alembic_hook_cdk.bundling.spec import HookBundleSpec, installed_handler
from alembic_hook_cdk.bundling.target import MIN_PYTHON, LambdaPython
from alembic_hook_cdk.bundling.tools import BundlingError, Log, find_uv

__all__ = [
    "ALEMBIC_INI",
    "BOTOCORE_UPPER_BOUNDS",
    "BUNDLE_FORMAT",
    "CA_BUNDLE_PATH",
    "DISTRIBUTION",
    "HANDLER_PACKAGE",
    "LAMBDA_TASK_ROOT",
    "LINT_MANIFEST",
    "MANIFEST",
    "MIGRATIONS_DIR",
    "MIN_PYTHON",
    "RUNTIME_PROVIDED",
    "UNUSED_AT_RUNTIME",
    "BundleReport",
    "BundlingError",
    "HookBundleSpec",
    "LambdaPython",
    "LocalHookBundler",
    "Log",
    "build_bundle",
    "check_runtime_compatibility",
    "compile_bytecode",
    "find_python",
    "find_strip",
    "find_uv",
    "installed_handler",
    "installed_packages",
    "iter_asset_files",
    "lint_revisions",
    "linter_version",
    "read_heads",
    "requirement_name",
    "runtime_requirements",
    "strip_debug_info",
    "write_heads_manifest",
    "write_lint_manifest",
]

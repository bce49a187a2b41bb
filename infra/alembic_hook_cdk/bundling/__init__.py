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

One module per concern; this package exports what the construct and the tools use (the tests reach the
steps through their modules):

* ``target``: the Lambda Python (version, architecture, wheel platform) and where things sit in the asset;
* ``spec``: ``HookBundleSpec``, every input of the build, and its fingerprint (the CDK asset hash);
* ``dependencies``: the runtime dependencies from the installed distribution's metadata, pinned; installing
  them (``uv pip install --target``) and what is removed afterwards; what the Lambda runtime provides (boto3)
  and the bounds its botocore imposes;
* ``bytecode``: ``compileall`` with the runtime's Python, and stripping the shared objects' debug info;
* ``revision_records``: what the build records about the revisions: ``read_heads`` (the one way build steps
  learn the Alembic heads) and the heads manifest, and the safety gate's verdict on every revision
  (``alembic_hook_lint.json``), so no squawk binary ships;
* ``build``: ``build_bundle``, the steps in order, the ``hook-bundle.json`` report, and ``LocalHookBundler``,
  the CDK ``ILocalBundling`` adapter;
* ``tools``: running and finding the build's tools (uv), the build log and ``BundlingError``; what is never
  bundled nor hashed, copying sources, listing a built asset.
"""

from __future__ import annotations

from alembic_hook_cdk.bundling.build import BundleReport, LocalHookBundler, build_bundle
from alembic_hook_cdk.bundling.revision_records import LINT_MANIFEST, lint_revisions, read_heads
from alembic_hook_cdk.bundling.spec import HookBundleSpec
from alembic_hook_cdk.bundling.target import (
    ALEMBIC_INI,
    CA_BUNDLE_PATH,
    LAMBDA_TASK_ROOT,
    MANIFEST,
    MIGRATIONS_DIR,
    LambdaPython,
)
from alembic_hook_cdk.bundling.tools import BundlingError, find_uv, iter_asset_files

__all__ = [
    "ALEMBIC_INI",
    "CA_BUNDLE_PATH",
    "LAMBDA_TASK_ROOT",
    "LINT_MANIFEST",
    "MANIFEST",
    "MIGRATIONS_DIR",
    "BundleReport",
    "BundlingError",
    "HookBundleSpec",
    "LambdaPython",
    "LocalHookBundler",
    "build_bundle",
    "find_uv",
    "iter_asset_files",
    "lint_revisions",
    "read_heads",
]

"""The CDK side of alembic-deploy-hook (``pip install 'alembic-deploy-hook[cdk]'``): the ``MigrationHook``
construct, its props, the RDS CA bundle it ships, and the opt-in Step Functions workflow (``.workflow``).

The package's source lives in the repository's ``infra/alembic_hook_cdk/`` and installs as the top-level
``alembic_hook_cdk``, so a team's own ``infra`` package (what ``cdk init`` creates) never shadows it.
"""

from __future__ import annotations

from alembic_hook_cdk.migration_hook import MigrationHook, MigrationHookProps
from alembic_hook_cdk.rds_ca import CaBundle, CaBundleError

__all__ = ["CaBundle", "CaBundleError", "MigrationHook", "MigrationHookProps"]

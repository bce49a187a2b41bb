"""The migration workflow (issue 12): Step Functions around the hook's function. See ``workflow.py``.

``workflow.py`` composes it (``MigrationWorkflow``); ``props.py`` and ``bounds.py`` what a team configures and
its checks; ``definition.py`` the state machine (with ``snapshot.py``, ``rehearsal.py``, ``migrate_loop.py``,
``reports.py``, ``fleet_map.py``, ``summary.py``, ``wire.py``); ``long_lane.py`` the CodeBuild lane;
``deploy_wait.py`` CloudFormation's wait for the workflow (``run_on_deploy``); ``helper.py`` and ``runtime/``
the small helper function; ``secrets.py`` the fleet's secret grants; ``arns.py`` and ``nag.py`` the ARNs and
cdk-nag acknowledgments every part spells the same way.
"""

from __future__ import annotations

from alembic_hook_cdk.workflow.deploy_wait import DeployWait
from alembic_hook_cdk.workflow.props import (
    FleetOptions,
    LongLaneOptions,
    MigrationWorkflowProps,
    SnapshotOptions,
    Target,
    TargetsObject,
)
from alembic_hook_cdk.workflow.rehearsal import RehearsalOptions
from alembic_hook_cdk.workflow.workflow import MigrationWorkflow

__all__ = [
    "DeployWait",
    "FleetOptions",
    "LongLaneOptions",
    "MigrationWorkflow",
    "MigrationWorkflowProps",
    "RehearsalOptions",
    "SnapshotOptions",
    "Target",
    "TargetsObject",
]

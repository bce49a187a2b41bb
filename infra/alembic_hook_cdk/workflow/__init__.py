"""The migration workflow (issue 12): Step Functions around the hook's function. See ``workflow.py``."""

from __future__ import annotations

from alembic_hook_cdk.workflow.gate import GATE_RESOURCE_TYPE, DeployGate
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
    "GATE_RESOURCE_TYPE",
    "DeployGate",
    "FleetOptions",
    "LongLaneOptions",
    "MigrationWorkflow",
    "MigrationWorkflowProps",
    "RehearsalOptions",
    "SnapshotOptions",
    "Target",
    "TargetsObject",
]

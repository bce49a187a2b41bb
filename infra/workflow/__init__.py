"""The migration workflow (issue 12): Step Functions around the hook's function. See ``workflow.py``."""

from __future__ import annotations

from infra.workflow.gate import GATE_RESOURCE_TYPE, DeployGate
from infra.workflow.props import (
    FleetOptions,
    LongLaneOptions,
    MigrationWorkflowProps,
    SnapshotOptions,
    Target,
    TargetsObject,
)
from infra.workflow.rehearsal import RehearsalOptions
from infra.workflow.workflow import MigrationWorkflow

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

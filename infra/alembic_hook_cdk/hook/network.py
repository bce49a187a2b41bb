"""The function's network: a security group that reaches only the database (its port) and HTTPS, the matching
ingress on the database's group, the default subnets, and the VPC endpoints a VPC without NAT needs.

Every construct is created in the hook's own scope (ids ``SecurityGroup``, ``DatabaseIngress``,
``<Name>Endpoint``), so the parts add no level to the construct tree and no logical ID depends on them."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


@dataclass(frozen=True)
class FunctionNetwork:
    """The function's security group and the database ingress that admits it: made together, held together."""

    security_group: ec2.SecurityGroup
    database_ingress: ec2.CfnSecurityGroupIngress


def function_network(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    database_security_group: ec2.ISecurityGroup,
    database_port: int,
    https_egress: ec2.IPeer | None,
) -> FunctionNetwork:
    group = ec2.SecurityGroup(
        scope,
        "SecurityGroup",
        vpc=vpc,
        description="Migration function: PostgreSQL to the database, HTTPS to AWS APIs, nothing else",
        allow_all_outbound=False,
    )
    group.add_egress_rule(
        https_egress or ec2.Peer.any_ipv4(),
        ec2.Port.tcp(443),
        "HTTPS to AWS APIs (Secrets Manager, CodePipeline, S3 for CloudFormation responses)",
    )
    group.add_egress_rule(
        database_security_group, ec2.Port.tcp(database_port), "Migration function to PostgreSQL"
    )
    # The matching ingress on the database's group, as a resource of the hook (not a child of the database's
    # group, as Connections.allow_to would place it): the custom resource can then wait for exactly this rule
    # without depending on the database group's other rules, whose sources (the ECS service's group) may
    # themselves wait for the migration, which would be a dependency cycle.
    ingress = ec2.CfnSecurityGroupIngress(
        scope,
        "DatabaseIngress",
        group_id=database_security_group.security_group_id,
        source_security_group_id=group.security_group_id,
        ip_protocol="tcp",
        from_port=database_port,
        to_port=database_port,
        description="Migration function to PostgreSQL",
    )
    return FunctionNetwork(security_group=group, database_ingress=ingress)


def default_subnets(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    """The VPC's private subnets, or its isolated ones when it has no NAT."""
    if vpc.private_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


def vpc_endpoints(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    subnets: ec2.SubnetSelection,
    function_group: ec2.ISecurityGroup,
) -> list[ec2.IVpcEndpoint]:
    """What a VPC without NAT needs for this function: the two APIs it calls, and S3, through which
    CloudFormation custom-resource responses travel (a presigned PUT).

    Private DNS makes the service's public hostname resolve to the endpoint for every client in the VPC (the
    application's tasks, the secret's rotation function), so each interface endpoint admits HTTPS from the
    VPC's CIDR as well as from the function's group: one that admitted only the function would turn every
    other client's Secrets Manager or CodePipeline call in the VPC into a refused connection. What a client
    may do there is still decided by IAM."""
    clients = vpc_clients(vpc)
    endpoints: list[ec2.IVpcEndpoint] = []
    for name, service in (
        ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
        ("CodePipeline", ec2.InterfaceVpcEndpointAwsService.CODEPIPELINE),
    ):
        endpoint = ec2.InterfaceVpcEndpoint(
            scope,
            f"{name}Endpoint",
            vpc=vpc,
            service=service,
            subnets=subnets,
            private_dns_enabled=True,  # the SDK's default hostnames must resolve to the endpoint
            open=False,  # the rules are below: the function's group by name, and the VPC's clients
        )
        # Only the ingress side: the function's HTTPS egress already covers the endpoint.
        for group in endpoint.connections.security_groups:
            group.add_ingress_rule(
                function_group, ec2.Port.tcp(443), f"Migration function to {name}"
            )
            group.add_ingress_rule(
                clients,
                ec2.Port.tcp(443),
                f"Every client in the VPC: private DNS sends their {name} calls here",
            )
        endpoints.append(endpoint)
    # A gateway endpoint changes the subnets' route tables for all of S3, so it keeps the default
    # (full-access) policy: narrowing it to the response bucket would break every other S3 client there.
    endpoints.append(
        ec2.GatewayVpcEndpoint(
            scope,
            "S3Endpoint",
            vpc=vpc,
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[subnets],
        )
    )
    return endpoints


def vpc_clients(vpc: ec2.IVpc) -> ec2.IPeer:
    """The VPC's own address range: whom an endpoint with (VPC-wide) private DNS must admit."""
    try:
        return ec2.Peer.ipv4(vpc.vpc_cidr_block)
    except Exception as exc:  # an imported VPC without vpcCidrBlock: jsii raises its own error type
        raise ValueError(
            "create_vpc_endpoints needs the VPC's CIDR (import the VPC with vpc_cidr_block, or use Vpc.from_lookup): "
            "its endpoints turn on private DNS for the whole VPC and must admit every client in it."
        ) from exc


def logs_endpoint(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, subnets: ec2.SubnetSelection
) -> ec2.InterfaceVpcEndpoint:
    """CloudWatch Logs, for a client in a VPC without NAT that ships its own logs (CodeBuild does; Lambda's
    service ships a function's logs itself). Private DNS on, so it admits the VPC's clients."""
    endpoint = ec2.InterfaceVpcEndpoint(
        scope,
        construct_id,
        vpc=vpc,
        service=ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
        subnets=subnets,
        private_dns_enabled=True,
        open=False,
    )
    for group in endpoint.connections.security_groups:
        group.add_ingress_rule(
            vpc_clients(vpc),
            ec2.Port.tcp(443),
            "Every client in the VPC: private DNS sends their CloudWatch Logs calls here",
        )
    return endpoint

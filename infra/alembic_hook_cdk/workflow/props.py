"""What a team configures for ``MigrationWorkflow``: the loop's bounds, the optional pre-migration snapshot,
the optional fleet of databases and the long lane; and the checks that refuse values AWS would reject only
at deploy or run time (or that would make a bound meaningless)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, Token
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from alembic_hook_cdk.workflow.bounds import check_polling, check_prefix, polls
from alembic_hook_cdk.workflow.rehearsal import RehearsalOptions, validate_rehearsal

# Step Functions' own ceiling for a Standard execution is a year; a migration that has not finished in a day
# is stuck, and the bound is what turns "stuck" into a failed deploy.
MAX_EXECUTION = Duration.days(7)
# CodeBuild's ceiling for one build (36 hours).
MAX_BUILD = Duration.minutes(2160)
# A cluster snapshot identifier holds at most 63 characters; the workflow's are "<prefix>-<32 hex digits>".
SNAPSHOT_HASH_LENGTH = 32
MAX_SNAPSHOT_PREFIX = 63 - 1 - SNAPSHOT_HASH_LENGTH


@dataclass(frozen=True, kw_only=True)
class SnapshotOptions:
    """A manual RDS snapshot before the first DDL of a run, when revisions are pending.

    One database (no fleet): name its DB instance (``instance``; an instance that belongs to an Aurora or
    Multi-AZ DB cluster is detected at run time and its cluster is snapshotted instead) or its cluster
    (``cluster``). A fleet: each target names its own ``instance``/``cluster``; the workflow may snapshot only
    those listed here in ``allowed_instances``/``allowed_clusters`` (IAM), plus the inline targets' own.

    Identifiers are ``<prefix>-<md5 of execution and source>``: the same execution (a retry, a redrive, two
    tenants on one instance) finds the snapshot it already made. The hook's snapshots of a source beyond the
    newest ``keep`` are deleted after a new one is available; the role can delete no other snapshot."""

    instance: str | None = None
    cluster: str | None = None
    allowed_instances: Sequence[str] = ()
    allowed_clusters: Sequence[str] = ()
    keep: int = 5
    poll_interval: Duration = field(default_factory=lambda: Duration.seconds(30))
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))
    prefix: str = "alembic-hook"

    @property
    def max_polls(self) -> int:
        return polls(self.timeout, self.poll_interval)


@dataclass(frozen=True, kw_only=True)
class Target:
    """One database of a fleet. ``secret``: its Secrets Manager secret (an ``ISecret`` or its complete ARN).
    ``host``/``name`` override the secret's (RDS-managed secrets hold only username and password); a
    target without them uses the secret's, or the hook's ``database_host``/``database_name``.
    ``instance``/``cluster``: what to snapshot for it (with ``SnapshotOptions``)."""

    secret: secretsmanager.ISecret | str
    id: str | None = None
    host: str | None = None
    name: str | None = None
    instance: str | None = None
    cluster: str | None = None

    @property
    def secret_arn(self) -> str:
        return self.secret if isinstance(self.secret, str) else self.secret.secret_arn


@dataclass(frozen=True, kw_only=True)
class TargetsObject:
    """A JSON array of targets in S3 (``[{"secret_arn": ..., "id"?, "host"?, "name"?, "instance"?,
    "cluster"?}, ...]``), read by the Distributed Map when an execution starts."""

    bucket: s3.IBucket
    key: str


@dataclass(frozen=True, kw_only=True)
class FleetOptions:
    """Many databases, one result each, at most ``max_concurrency`` at a time.

    The function's role (and the long lane's) may read only: the inline targets' secrets, plus those whose
    name starts with ``secret_prefix`` or that carry the tag ``secret_tag`` (one of the two is required for a
    fleet read from S3, whose secrets are unknown when the stack is built). Never every secret.

    ``tolerated_failure_percentage``: the execution fails when more than this share of the databases failed
    (0: any failure fails it). Every database is attempted either way and reported with its failure's kind.
    ``results_bucket``: the Distributed Map writes each database's result there (ResultWriter) and the
    summary is read back from it; without it results travel in the execution's state (256 KiB: a few hundred
    databases; more than 200 inline targets require the bucket)."""

    targets: Sequence[Target] = ()
    targets_object: TargetsObject | None = None
    secret_prefix: str | None = None
    secret_tag: tuple[str, str] | None = None
    secret_keys: Sequence[kms.IKey] = ()
    max_concurrency: int = 4
    tolerated_failure_percentage: float = 0
    results_bucket: s3.IBucket | None = None
    results_prefix: str = "alembic-hook/results"


@dataclass(frozen=True, kw_only=True)
class LongLaneOptions:
    """The CodeBuild project that runs a revision declared long (``alembic_hook_long = True``) with the same
    CLI, secret, lock and settings as the function, without Lambda's 15 minutes. ``enabled=False``: a long
    revision fails the database (kind ``long_revision``) instead."""

    enabled: bool = True
    timeout: Duration = field(default_factory=lambda: Duration.hours(8))
    # each statement of a long revision; the function's own statement_timeout stays for the function
    statement_timeout: Duration = field(default_factory=lambda: Duration.hours(6))
    compute_type: codebuild.ComputeType = codebuild.ComputeType.SMALL
    encryption_key: kms.IKey | None = None


@dataclass(frozen=True, kw_only=True)
class MigrationWorkflowProps:
    """``budget``: what one invocation may spend applying revisions before it answers ``partial`` (default:
    the function's timeout less a minute; the engine also stops before the invocation's own end).
    ``max_iterations``: invocations (and long-lane builds) per database. ``timeout``: the whole execution."""

    budget: Duration | None = None
    max_iterations: int = 100
    timeout: Duration = field(default_factory=lambda: Duration.hours(12))
    snapshot: SnapshotOptions | None = None
    fleet: FleetOptions | None = None
    long_lane: LongLaneOptions = field(default_factory=LongLaneOptions)
    state_machine_name: str | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    # the wait between two polls of a long-lane build is CodeBuild's own (the .sync integration); these are
    # the workflow's retries of a Lambda invoke that failed in Lambda's service (never a function error)
    invoke_retries: int = 3
    # opt-in: rehearse the pending revisions on a copy before the loop (workflow/rehearsal.py)
    rehearsal: RehearsalOptions | None = None


# Results of this many inline targets stay well inside Step Functions' 256 KiB state limit (a database's
# result, its target included, is up to about 600 bytes); beyond it a results bucket is required.
MAX_INLINE_RESULTS = 200


def validate(props: MigrationWorkflowProps, *, function_timeout: Duration) -> None:
    if not 1 <= props.max_iterations <= 2000:
        raise ValueError(
            "max_iterations must be 1..2000 (each iteration costs about ten history events of the "
            "25,000 a Standard execution may have)"
        )
    if props.timeout.to_seconds() > MAX_EXECUTION.to_seconds():
        raise ValueError(
            f"timeout {props.timeout.to_human_string()} exceeds {MAX_EXECUTION.to_human_string()}"
        )
    budget = budget_seconds(props, function_timeout)
    if budget < 1:
        raise ValueError("budget must be at least one second")
    if budget > function_timeout.to_seconds():
        raise ValueError(
            "budget exceeds the function's timeout: the invocation would end before the budget"
        )
    if not 0 <= props.invoke_retries <= 10:
        raise ValueError("invoke_retries must be 0..10")
    if props.snapshot is not None:
        _validate_snapshot(props.snapshot, fleet=props.fleet is not None)
    if props.fleet is not None:
        _validate_fleet(props.fleet)
    if props.rehearsal is not None:
        validate_rehearsal(
            props.rehearsal, fleet=props.fleet is not None, snapshot=props.snapshot is not None
        )
    lane = props.long_lane
    if lane.enabled:
        if not 5 * 60 <= lane.timeout.to_seconds() <= MAX_BUILD.to_seconds():
            raise ValueError("long_lane.timeout must be 5 minutes..36 hours (CodeBuild's range)")
        if lane.statement_timeout.to_seconds() >= lane.timeout.to_seconds():
            raise ValueError("long_lane.statement_timeout must be shorter than long_lane.timeout")


def budget_seconds(props: MigrationWorkflowProps, function_timeout: Duration) -> int:
    if props.budget is not None:
        return int(props.budget.to_seconds())
    return max(1, int(function_timeout.to_seconds()) - 60)


def _validate_snapshot(options: SnapshotOptions, *, fleet: bool) -> None:
    if not fleet and (options.instance is None) == (options.cluster is None):
        raise ValueError(
            "SnapshotOptions for one database: give exactly one of instance or cluster"
        )
    if fleet and (options.instance or options.cluster):
        raise ValueError(
            "SnapshotOptions with a fleet: each target names its instance/cluster; list the ones "
            "the workflow may snapshot in allowed_instances/allowed_clusters"
        )
    if not 1 <= options.keep <= 100:
        raise ValueError(
            "SnapshotOptions.keep must be 1..100 (RDS allows 100 manual snapshots per region by "
            "default)"
        )
    check_prefix("SnapshotOptions", options.prefix, MAX_SNAPSHOT_PREFIX)
    check_polling("SnapshotOptions", options.poll_interval, options.timeout)


def _validate_fleet(fleet: FleetOptions) -> None:
    if bool(fleet.targets) == (fleet.targets_object is not None):
        raise ValueError(
            "FleetOptions: give the targets inline (targets) or in S3 (targets_object), not both"
        )
    if fleet.targets_object is not None and not (fleet.secret_prefix or fleet.secret_tag):
        raise ValueError(
            "FleetOptions with targets_object: the secrets are unknown when the stack is built; give "
            "secret_prefix or secret_tag so the function may read those and no others"
        )
    if fleet.secret_prefix is not None and (not fleet.secret_prefix or "*" in fleet.secret_prefix):
        raise ValueError(
            "FleetOptions.secret_prefix must be a non-empty name prefix without wildcards"
        )
    if not 1 <= fleet.max_concurrency <= 1000:
        raise ValueError("FleetOptions.max_concurrency must be 1..1000")
    if not 0 <= fleet.tolerated_failure_percentage <= 100:
        raise ValueError("FleetOptions.tolerated_failure_percentage must be 0..100")
    if len(fleet.targets) > MAX_INLINE_RESULTS and fleet.results_bucket is None:
        raise ValueError(
            f"FleetOptions: more than {MAX_INLINE_RESULTS} targets need results_bucket (their results "
            "would exceed the 256 KiB an execution's state may hold)"
        )
    ids = [t.id for t in fleet.targets if t.id]
    if len(ids) != len(set(ids)):
        raise ValueError("FleetOptions: target ids must be unique")
    for target in fleet.targets:
        arn = target.secret_arn
        if not Token.is_unresolved(arn) and not arn.startswith("arn:"):
            raise ValueError(
                f"Target secret {arn!r}: give the secret's complete ARN (IAM grants exactly it)"
            )

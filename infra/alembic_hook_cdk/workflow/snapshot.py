"""The pre-migration snapshot (opt-in, ``SnapshotOptions``)::

    SnapshotWanted? -> Plan (status) -> Pending? -> SnapshotKind?
        cluster named            -> ClusterSource -> the cluster branch
        instance (Aurora member) -> AuroraMember  -> the cluster branch
        instance                 -> InstanceSource -> the instance branch
    a branch: <Kind>SnapshotId -> Create (an existing one of this execution counts) -> Wait/Describe until
    available (bounded) -> Prune -> <Kind>SnapshotTaken -> Migrate

Which sources may be snapshotted is ``allowed_sources``, granted here and to the helper's pruning alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from alembic_hook_cdk.workflow.arns import rds_arns
from alembic_hook_cdk.workflow.props import FleetOptions, SnapshotOptions
from alembic_hook_cdk.workflow.wire import from_answer

if TYPE_CHECKING:
    from alembic_hook_cdk.workflow.definition import Definition

# aws-sdk errors no retry can change (the names Step Functions gives RDS's faults)
NOT_FOUND = [
    "Rds.DbInstanceNotFoundException",
    "Rds.DbSnapshotNotFoundException",
    "Rds.DbClusterSnapshotNotFoundException",
]
# RDS snapshot states that will never become available
SNAPSHOT_DEAD = ("failed", "error", "deleted", "deleting", "incompatible*", "*fail*")
# an empty list of sources gets an ARN that matches nothing rather than no statement
NO_SOURCE = "alembic-hook-none"


def allowed_sources(options: SnapshotOptions, fleet: FleetOptions | None, kind: str) -> list[str]:
    """The instances (``kind="instance"``) or clusters the workflow may snapshot: the one database's own, the
    listed ones and the inline targets'. A source that is not listed cannot be snapshotted: the create fails
    (AccessDenied) and the database stops before any DDL."""
    listed = list(options.allowed_instances if kind == "instance" else options.allowed_clusters)
    own = options.instance if kind == "instance" else options.cluster
    inline = [getattr(t, kind) for t in fleet.targets] if fleet is not None else []
    names = [n for n in [own, *listed, *inline] if n]
    return list(dict.fromkeys(names)) or [NO_SOURCE]


def snapshot_stage(d: Definition, migrate: sfn.IChainable) -> sfn.IChainable:
    """The stage's entry (``SnapshotWanted?``); every path ends in ``migrate`` or a failure."""
    options = d.props.snapshot
    assert options is not None
    failure = d.other_failure("Snapshot", "snapshot_failed")
    plan = _plan(d)
    describe = _describe_instance(d, options, failure)
    instance_branch = _Branch(d, "Instance", options, failure).build(migrate)
    cluster_branch = _Branch(d, "Cluster", options, failure).build(migrate)
    member = _source(
        d,
        "AuroraMember",
        "cluster",
        "$.snapshot_source.instance.DbClusterIdentifier",
        cluster_branch,
    )
    instance = _source(d, "InstanceSource", "instance", "$.target.instance", instance_branch)
    cluster = _source(d, "ClusterSource", "cluster", "$.target.cluster", cluster_branch)
    describe.next(
        sfn.Choice(d.scope, "ClusterMember?")
        .when(sfn.Condition.is_present("$.snapshot_source.instance.DbClusterIdentifier"), member)
        .otherwise(instance)
    )
    kind = (
        sfn.Choice(d.scope, "SnapshotKind?")
        .when(_named("$.target.cluster"), cluster)
        .otherwise(describe)
    )
    plan.next(
        sfn.Choice(d.scope, "Pending?")
        .when(sfn.Condition.number_greater_than("$.plan.pending_count", 0), kind)
        .otherwise(migrate)
    )
    has_source = sfn.Condition.or_(_named("$.target.instance"), _named("$.target.cluster"))
    return (
        sfn.Choice(d.scope, "SnapshotWanted?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.boolean_equals("$.options.snapshot", True), has_source
            ),
            plan,
        )
        .otherwise(migrate)
    )


def _named(path: str) -> sfn.Condition:
    return sfn.Condition.not_(sfn.Condition.string_equals(path, ""))


def _plan(d: Definition) -> tasks.LambdaInvoke:
    """``status``: a database with nothing pending is not snapshotted."""
    plan = d.invoke(
        "Plan",
        d.parts.function,
        {
            "command": "status",
            "revision": sfn.JsonPath.string_at("$.options.revision"),
            "database": d.database(),
        },
        result_selector={
            "status": sfn.JsonPath.string_at(from_answer("status")),
            "pending_count": sfn.JsonPath.array_length(
                sfn.JsonPath.list_at(from_answer("pending"))
            ),
        },
        result_path="$.plan",
        timeout=d.function_timeout(),
    )
    plan.add_catch(d.function_failure, errors=["States.ALL"], result_path="$.error")
    return plan


def _describe_instance(
    d: Definition, options: SnapshotOptions, failure: sfn.IChainable
) -> tasks.CallAwsService:
    """An instance may be an Aurora cluster's member, whose snapshot is the cluster's."""
    describe = tasks.CallAwsService(
        d.scope,
        "DescribeInstance",
        service="rds",
        action="describeDBInstances",
        iam_action="rds:DescribeDBInstances",
        parameters={"DbInstanceIdentifier": sfn.JsonPath.string_at("$.target.instance")},
        iam_resources=rds_arns(d.scope, "db", allowed_sources(options, d.props.fleet, "instance")),
        result_selector={"instance": sfn.JsonPath.object_at("$.DbInstances[0]")},
        result_path="$.snapshot_source",
    )
    # an instance that is not there stays not there
    describe.add_retry(errors=NOT_FOUND, max_attempts=0)
    describe.add_retry(
        errors=["States.ALL"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2
    )
    describe.add_catch(failure, errors=["States.ALL"], result_path="$.error")
    return describe


def _source(
    d: Definition, construct_id: str, kind: str, id_path: str, branch: sfn.IChainable
) -> sfn.IChainable:
    return sfn.Pass(
        d.scope,
        construct_id,
        parameters={"kind": kind, "id": sfn.JsonPath.string_at(id_path)},
        result_path="$.snapshot_source",
    ).next(branch)


@dataclass(frozen=True)
class _Api:
    """How RDS spells one kind of snapshot."""

    kind: str  # "instance" or "cluster"
    api: str  # DBSnapshot / DBClusterSnapshot
    id_key: str  # the snapshot's identifier parameter
    source_key: str  # the source's identifier parameter
    listed: str  # the describe answer's list
    source_resource: str
    snapshot_resource: str


INSTANCE = _Api(
    "instance",
    "DBSnapshot",
    "DbSnapshotIdentifier",
    "DbInstanceIdentifier",
    "DbSnapshots",
    "db",
    "snapshot",
)
CLUSTER = _Api(
    "cluster",
    "DBClusterSnapshot",
    "DbClusterSnapshotIdentifier",
    "DbClusterIdentifier",
    "DbClusterSnapshots",
    "cluster",
    "cluster-snapshot",
)


class _Branch:
    """One kind's branch: create (an existing one of this execution counts), poll until available (bounded),
    prune, go on."""

    def __init__(
        self, d: Definition, label: str, options: SnapshotOptions, failure: sfn.IChainable
    ) -> None:
        self.d, self.label, self.options, self.failure = d, label, options, failure
        self.api = CLUSTER if label == "Cluster" else INSTANCE
        sources = allowed_sources(options, d.props.fleet, self.api.kind)
        self.snapshot_arns = rds_arns(d.scope, self.api.snapshot_resource, [f"{options.prefix}-*"])
        # AWS lists the source (db / cluster) as a resource type of these calls too, beside the snapshot:
        # granted on the snapshot alone, the call may be refused and every run stop at snapshot_failed
        self.resources = [
            *rds_arns(d.scope, self.api.source_resource, sources),
            *self.snapshot_arns,
        ]

    def build(self, migrate: sfn.IChainable) -> sfn.IChainable:
        scope, label = self.d.scope, self.label
        name = self._name()
        create = self._create()
        exists = sfn.Choice(scope, f"{label}SnapshotExists?")
        create.add_catch(exists, errors=["States.ALL"], result_path="$.error")
        wait = sfn.Wait(
            scope,
            f"Wait{label}Snapshot",
            time=sfn.WaitTime.seconds_path("$.settings.snapshot_poll_seconds"),
        )
        exists.when(
            sfn.Condition.string_matches("$.error.Error", "*AlreadyExists*"), wait
        ).otherwise(self.failure)
        describe = self._describe()
        count = sfn.Pass(
            scope,
            f"Count{label}Poll",
            parameters={
                "id": sfn.JsonPath.string_at("$.snapshot.id"),
                "polls": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.snapshot.polls"), 1),
            },
            result_path="$.snapshot",
        )
        taken = sfn.Pass(
            scope, f"{label}SnapshotTaken", input_path="$.snapshot.id", result_path="$.snapshot_id"
        )
        prune = self._prune(taken)
        ready = self._ready(prune, count)
        prune.next(taken)
        taken.next(migrate)
        count.next(wait)
        wait.next(describe)
        describe.next(ready)
        name.next(create)
        create.next(wait)
        return name

    def _name(self) -> sfn.Pass:
        """A hash of the execution and the source: a re-run of this execution finds its own snapshot."""
        return sfn.Pass(
            self.d.scope,
            f"{self.label}SnapshotId",
            parameters={
                "id": sfn.JsonPath.format(
                    "{}-{}",
                    sfn.JsonPath.string_at("$.settings.snapshot_prefix"),
                    sfn.JsonPath.hash(
                        sfn.JsonPath.format(
                            "{}|{}|{}",
                            sfn.JsonPath.string_at("$.execution.id"),
                            sfn.JsonPath.string_at("$.snapshot_source.kind"),
                            sfn.JsonPath.string_at("$.snapshot_source.id"),
                        ),
                        "MD5",
                    ),
                ),
                "polls": 0,
            },
            result_path="$.snapshot",
        )

    def _create(self) -> tasks.CallAwsService:
        api = self.api
        return tasks.CallAwsService(
            self.d.scope,
            f"Create{self.label}Snapshot",
            service="rds",
            action=f"create{api.api}",
            iam_action=f"rds:Create{api.api}",
            parameters={
                api.id_key: sfn.JsonPath.string_at("$.snapshot.id"),
                api.source_key: sfn.JsonPath.string_at("$.snapshot_source.id"),
                "Tags": [
                    {"Key": "alembic-hook", "Value": "pre-migration"},
                    {
                        "Key": "alembic-hook:execution",
                        "Value": sfn.JsonPath.string_at("$.execution.name"),
                    },
                ],
            },
            iam_resources=self.resources,
            additional_iam_statements=[
                iam.PolicyStatement(actions=["rds:AddTagsToResource"], resources=self.snapshot_arns)
            ],
            result_path=sfn.JsonPath.DISCARD,
        )

    def _describe(self) -> tasks.CallAwsService:
        api = self.api
        describe = tasks.CallAwsService(
            self.d.scope,
            f"Describe{self.label}Snapshot",
            service="rds",
            action=f"describe{api.api}s",
            iam_action=f"rds:Describe{api.api}s",
            parameters={api.id_key: sfn.JsonPath.string_at("$.snapshot.id")},
            iam_resources=self.resources,
            # the whole description, then its Status: moto's JSONPath turns "$.X[0].Status" into a one-element list
            result_selector={"snapshot": sfn.JsonPath.object_at(f"$.{api.listed}[0]")},
            result_path="$.snapshot_status",
        )
        describe.add_retry(errors=NOT_FOUND, max_attempts=0)
        describe.add_retry(
            errors=["States.ALL"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2
        )
        describe.add_catch(self.failure, errors=["States.ALL"], result_path="$.error")
        return describe

    def _prune(self, taken: sfn.IChainable) -> tasks.LambdaInvoke:
        d, options = self.d, self.options
        prune = d.invoke(
            f"Prune{self.label}Snapshots",
            d.parts.helper,
            {
                "action": "prune",
                "kind": self.api.kind,
                "source": sfn.JsonPath.string_at("$.snapshot_source.id"),
                "prefix": options.prefix,
                "keep": options.keep,
                "current": sfn.JsonPath.string_at("$.snapshot.id"),
            },
            result_selector=None,
            result_path="$.pruned",
            timeout=Duration.minutes(5),
        )
        # a snapshot that could not be pruned costs storage, never the migration: noted and passed over
        prune.add_catch(taken, errors=["States.ALL"], result_path="$.prune_error")
        return prune

    def _ready(self, prune: sfn.IChainable, count: sfn.IChainable) -> sfn.Choice:
        d, label = self.d, self.label
        status = "$.snapshot_status.snapshot.Status"
        dead = sfn.Condition.or_(*[sfn.Condition.string_matches(status, s) for s in SNAPSHOT_DEAD])
        ready = sfn.Choice(d.scope, f"{label}SnapshotReady?")
        ready.when(sfn.Condition.string_equals(status, "available"), prune)
        ready.when(
            dead,
            d.fail_with(
                f"{label}SnapshotDead",
                "snapshot_failed",
                "The pre-migration snapshot did not become available; nothing was applied.",
            ),
        )
        ready.when(
            sfn.Condition.number_greater_than_equals_json_path(
                "$.snapshot.polls", "$.settings.snapshot_max_polls"
            ),
            d.fail_with(
                f"{label}SnapshotTimeout",
                "snapshot_timeout",
                f"The pre-migration snapshot was not available within "
                f"{self.options.timeout.to_human_string()}; nothing was applied.",
            ),
        )
        ready.otherwise(count)
        return ready

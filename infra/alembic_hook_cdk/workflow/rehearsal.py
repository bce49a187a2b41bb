"""The opt-in rehearsal stage, before the production loop (one database): a copy of the database, the hook's
``rehearse`` against it, the copy deleted on every path, then the loop (whose gate uses the measurement).

    RehearsalPlan (status) -> [pending and wanted?] -> CopyId ->
        Aurora:  CloneCluster (copy-on-write, latest restorable time) -> CreateCopyInstance
        RDS:     RestoreCopy (the pre-migration snapshot this execution took)
    -> WaitCopy/DescribeCopy until available (bounded) -> Rehearse (the function, "copy": the copy's endpoint)
    -> DeleteCopy... -> Migrate                                    (success)
    any failure (create, wait, timeout, refusal, function error)
    -> its kind and message -> DeleteCopy... (each delete caught) -> Failed

The copy lives in the source's subnet group and security groups; it keeps the source's users, so the target's
secret authenticates with the copy's endpoint as host. IAM: create, describe and delete only ``<prefix>-*``
copies, restore only from the named source (or the workflow's own snapshots).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from alembic_hook_cdk.workflow.arns import rds_arns
from alembic_hook_cdk.workflow.bounds import check_polling, check_prefix, polls
from alembic_hook_cdk.workflow.reports import read_function_failure
from alembic_hook_cdk.workflow.wire import from_answer
from lambda_fn.contract import FUNCTION_ERROR

if TYPE_CHECKING:
    from alembic_hook_cdk.workflow.definition import Definition

# "<prefix>-<32 hex digits>" and, for a clone's instance, "-1": within RDS's 63 characters
COPY_HASH_LENGTH = 32
MAX_COPY_PREFIX = 63 - 1 - COPY_HASH_LENGTH - 2
COPY_DEAD = (
    "failed",
    "incompatible*",
    "deleting",
    "storage-full",
    "inaccessible-encryption-credentials*",
)
# the names Step Functions gives RDS's errors (Rds.<code>Exception) for a copy still busy
INSTANCE_BUSY = ["Rds.InvalidDbInstanceStateException"]
CLUSTER_BUSY = ["Rds.InvalidDbClusterStateFaultException"]


@dataclass(frozen=True, kw_only=True)
class RehearsalOptions:
    """Rehearse the pending revisions on a copy before the production loop (one database, not a fleet).

    ``cluster``: an Aurora cluster; the copy is a copy-on-write clone of it (fast whatever its size; pages
    shared until written) plus one ``instance_class`` instance. ``instance``: an RDS instance; the copy is a
    restore of the pre-migration snapshot (needs ``SnapshotOptions``; a restore loads blocks lazily, so its
    timings overstate production's). ``subnet_group``/``security_groups``: the source's, so the function reaches
    the copy as it reaches the source. ``database_name``: the copy's database (default: the target's)."""

    cluster: str | None = None
    instance: str | None = None
    subnet_group: str
    security_groups: Sequence[str]
    instance_class: str = "db.r6g.large"
    engine: str = "aurora-postgresql"
    database_name: str | None = None
    prefix: str = "alembic-hook-rh"
    poll_interval: Duration = field(default_factory=lambda: Duration.seconds(30))
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))

    @property
    def kind(self) -> str:
        return "clone" if self.cluster else "restore"

    @property
    def max_polls(self) -> int:
        return polls(self.timeout, self.poll_interval)


def validate_rehearsal(options: RehearsalOptions, *, fleet: bool, snapshot: bool) -> None:
    if fleet:
        raise ValueError("RehearsalOptions: the rehearsal stage runs for one database, not a fleet")
    if (options.cluster is None) == (options.instance is None):
        raise ValueError(
            "RehearsalOptions: give exactly one of cluster (an Aurora clone) or instance (a restore of "
            "the pre-migration snapshot)"
        )
    if options.instance is not None and not snapshot:
        raise ValueError(
            "RehearsalOptions(instance=...) restores the pre-migration snapshot: add SnapshotOptions"
        )
    if not options.subnet_group or not options.security_groups:
        raise ValueError(
            "RehearsalOptions: give the source's subnet_group and security_groups (the copy must be "
            "reachable as the source is)"
        )
    check_prefix("RehearsalOptions", options.prefix, MAX_COPY_PREFIX)
    check_polling("RehearsalOptions", options.poll_interval, options.timeout)


def settings(options: RehearsalOptions | None) -> dict[str, Any]:
    """The state's settings for the stage (none without it: the template of a workflow without it is unchanged)."""
    if options is None:
        return {}
    return {
        "rehearsal_poll_seconds": int(options.poll_interval.to_seconds()),
        "rehearsal_max_polls": options.max_polls,
    }


class RehearsalStage:
    """Builds the stage's states in the definition's scope; ``start`` leads to ``migrate`` or ``failed``."""

    def __init__(self, d: Definition, options: RehearsalOptions, migrate: sfn.IChainable) -> None:
        self.d, self.o, self.scope = d, options, d.scope
        self.copies = {
            "db": rds_arns(d.scope, "db", [f"{options.prefix}-*"]),
            "cluster": rds_arns(d.scope, "cluster", [f"{options.prefix}-*"]),
        }
        clone = options.cluster is not None
        failure_end = self._delete("Failure", d.failed)
        success_end = self._delete("Success", migrate)
        self.failure_end = failure_end

        plan = d.invoke(
            "RehearsalPlan",
            d.parts.function,
            {
                "command": "status",
                "revision": sfn.JsonPath.string_at("$.options.revision"),
                "database": d.database(),
            },
            result_selector={
                "pending_count": sfn.JsonPath.array_length(
                    sfn.JsonPath.list_at(from_answer("pending"))
                )
            },
            result_path="$.rehearsal_plan",
            timeout=d.function_timeout(),
        )
        plan.add_catch(d.function_failure, errors=["States.ALL"], result_path="$.error")
        copy_id = sfn.Pass(
            self.scope,
            "CopyId",
            parameters={
                "id": sfn.JsonPath.format(
                    "{}-{}",
                    options.prefix,
                    sfn.JsonPath.hash(
                        sfn.JsonPath.format(
                            "{}|rehearsal", sfn.JsonPath.string_at("$.execution.id")
                        ),
                        "MD5",
                    ),
                ),
                "polls": 0,
            },
            result_path="$.copy",
        )
        wanted = sfn.Condition.and_(
            sfn.Condition.number_greater_than("$.rehearsal_plan.pending_count", 0),
            # the input may say false: no rehearsal
            sfn.Condition.boolean_equals("$.options.rehearsal", True),
            *(
                []
                if clone
                else [sfn.Condition.not_(sfn.Condition.string_equals("$.snapshot_id", ""))]
            ),
        )
        plan.next(
            sfn.Choice(self.scope, "RehearsalWanted?").when(wanted, copy_id).otherwise(migrate)
        )

        wait = self._wait_until_available(self._rehearse(success_end))
        copy_id.next(self._create_clone(wait) if clone else self._restore(wait))
        self.start: sfn.IChainable = plan

    # -- the copy -------------------------------------------------------------------------------------------------

    def _tags(self) -> list[dict[str, Any]]:
        return [
            {"Key": "alembic-hook", "Value": "rehearsal"},
            {"Key": "alembic-hook:execution", "Value": sfn.JsonPath.string_at("$.execution.name")},
        ]

    def _network(self) -> dict[str, Any]:
        return {
            "DbSubnetGroupName": self.o.subnet_group,
            "VpcSecurityGroupIds": list(self.o.security_groups),
        }

    def _tagging(self, *arns: str) -> list[iam.PolicyStatement]:
        return [iam.PolicyStatement(actions=["rds:AddTagsToResource"], resources=list(arns))]

    def _create_clone(self, wait: sfn.IChainable) -> sfn.IChainable:
        o, d = self.o, self.d
        assert o.cluster is not None
        subnet_group = rds_arns(d.scope, "subgrp", [o.subnet_group])
        clone = tasks.CallAwsService(
            self.scope,
            "CloneCluster",
            service="rds",
            action="restoreDBClusterToPointInTime",
            iam_action="rds:RestoreDBClusterToPointInTime",
            parameters={
                "DbClusterIdentifier": sfn.JsonPath.string_at("$.copy.id"),
                "SourceDbClusterIdentifier": o.cluster,
                "RestoreType": "copy-on-write",
                "UseLatestRestorableTime": True,
                **self._network(),
                "Tags": self._tags(),
            },
            iam_resources=[
                *self.copies["cluster"],
                *rds_arns(d.scope, "cluster", [o.cluster]),
                *subnet_group,
            ],
            additional_iam_statements=self._tagging(*self.copies["cluster"]),
            result_path=sfn.JsonPath.DISCARD,
        )
        clone.add_catch(
            self._fail("CloneFailed", "rehearsal_copy_failed", from_error=True),
            errors=["States.ALL"],
            result_path="$.error",
        )
        instance = tasks.CallAwsService(
            self.scope,
            "CreateCopyInstance",
            service="rds",
            action="createDBInstance",
            iam_action="rds:CreateDBInstance",
            parameters={
                "DbInstanceIdentifier": self._instance_id(),
                "DbClusterIdentifier": sfn.JsonPath.string_at("$.copy.id"),
                "Engine": o.engine,
                "DbInstanceClass": o.instance_class,
                "Tags": self._tags(),
            },
            iam_resources=[*self.copies["db"], *self.copies["cluster"]],
            additional_iam_statements=self._tagging(*self.copies["db"]),
            result_path=sfn.JsonPath.DISCARD,
        )
        instance.add_catch(
            self._fail("CopyInstanceFailed", "rehearsal_copy_failed", from_error=True),
            errors=["States.ALL"],
            result_path="$.error",
        )
        return clone.next(instance).next(wait)

    def _restore(self, wait: sfn.IChainable) -> sfn.IChainable:
        o, d = self.o, self.d
        snapshots = (
            rds_arns(d.scope, "snapshot", [f"{d.props.snapshot.prefix}-*"])
            if d.props.snapshot
            else []
        )
        restore = tasks.CallAwsService(
            self.scope,
            "RestoreCopy",
            service="rds",
            action="restoreDBInstanceFromDBSnapshot",
            iam_action="rds:RestoreDBInstanceFromDBSnapshot",
            parameters={
                "DbInstanceIdentifier": self._instance_id(),
                "DbSnapshotIdentifier": sfn.JsonPath.string_at("$.snapshot_id"),
                "DbInstanceClass": o.instance_class,
                **self._network(),
                "Tags": self._tags(),
            },
            iam_resources=[
                *self.copies["db"],
                *snapshots,
                *rds_arns(d.scope, "subgrp", [o.subnet_group]),
            ],
            additional_iam_statements=self._tagging(*self.copies["db"]),
            result_path=sfn.JsonPath.DISCARD,
        )
        restore.add_catch(
            self._fail("RestoreFailed", "rehearsal_copy_failed", from_error=True),
            errors=["States.ALL"],
            result_path="$.error",
        )
        return restore.next(wait)

    def _instance_id(self) -> str:
        return (
            sfn.JsonPath.format("{}-1", sfn.JsonPath.string_at("$.copy.id"))
            if self.o.cluster
            else sfn.JsonPath.string_at("$.copy.id")
        )

    def _wait_until_available(self, rehearse: sfn.IChainable) -> sfn.IChainable:
        scope = self.scope
        wait = sfn.Wait(
            scope, "WaitCopy", time=sfn.WaitTime.seconds_path("$.settings.rehearsal_poll_seconds")
        )
        describe = tasks.CallAwsService(
            scope,
            "DescribeCopy",
            service="rds",
            action="describeDBInstances",
            iam_action="rds:DescribeDBInstances",
            parameters={"DbInstanceIdentifier": self._instance_id()},
            iam_resources=self.copies["db"],
            result_selector={"instance": sfn.JsonPath.object_at("$.DbInstances[0]")},
            result_path="$.copy_status",
        )
        describe.add_retry(
            errors=["States.ALL"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2
        )
        describe.add_catch(
            self._fail("DescribeCopyFailed", "rehearsal_copy_failed", from_error=True),
            errors=["States.ALL"],
            result_path="$.error",
        )
        count = sfn.Pass(
            scope,
            "CountCopyPoll",
            parameters={
                "id": sfn.JsonPath.string_at("$.copy.id"),
                "polls": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.copy.polls"), 1),
            },
            result_path="$.copy",
        )
        status = "$.copy_status.instance.DbInstanceStatus"
        ready = sfn.Choice(scope, "CopyReady?")
        ready.when(sfn.Condition.string_equals(status, "available"), rehearse)
        ready.when(
            sfn.Condition.or_(*[sfn.Condition.string_matches(status, s) for s in COPY_DEAD]),
            self._fail(
                "CopyDead",
                "rehearsal_copy_failed",
                "The rehearsal's copy did not become available; "
                "nothing was applied to the database.",
            ),
        )
        ready.when(
            sfn.Condition.number_greater_than_equals_json_path(
                "$.copy.polls", "$.settings.rehearsal_max_polls"
            ),
            self._fail(
                "CopyTimeout",
                "rehearsal_copy_timeout",
                f"The rehearsal's copy was not available within {self.o.timeout.to_human_string()}; "
                "nothing was applied to the database.",
            ),
        )
        ready.otherwise(count)
        count.next(wait)
        wait.next(describe)
        describe.next(ready)
        return wait

    # -- the rehearsal ----------------------------------------------------------------------------------------------

    def _rehearse(self, success: sfn.IChainable) -> sfn.IChainable:
        d, o = self.d, self.o
        rehearse = d.invoke(
            "Rehearse",
            d.parts.function,
            {
                "command": "rehearse",
                "revision": sfn.JsonPath.string_at("$.options.revision"),
                "database": d.database(),
                "copy": {
                    "host": sfn.JsonPath.string_at("$.copy_status.instance.Endpoint.Address"),
                    "port": sfn.JsonPath.number_at("$.copy_status.instance.Endpoint.Port"),
                    "name": o.database_name or sfn.JsonPath.string_at("$.target.name"),
                    "secret_arn": sfn.JsonPath.string_at("$.target.secret_arn"),
                    "kind": o.kind,
                },
            },
            result_selector={
                "status": sfn.JsonPath.string_at(from_answer("status")),
                "message": sfn.JsonPath.string_at(from_answer("message")),
            },
            result_path="$.rehearsal",
            timeout=d.function_timeout(),
        )
        rehearse.add_catch(self._function_failure(), errors=["States.ALL"], result_path="$.error")
        return rehearse.next(success)

    def _function_failure(self) -> sfn.IChainable:
        """A refusal or failure of the rehearsal (MigrationFailed: the engine's kind and message), or any other
        error (a timeout: its name), as ``$.failure``; then the copy is deleted."""
        scope = self.scope
        payload, kind = read_function_failure(
            scope,
            ("ReadRehearsalPayload", "ReadRehearsalResult", "RehearsalFailureKind"),
            label="rehearsal",
        )
        kind.next(self.failure_end)
        return (
            sfn.Choice(scope, "RehearsalFunctionFailure?")
            .when(sfn.Condition.string_equals("$.error.Error", FUNCTION_ERROR), payload)
            .otherwise(self._fail("RehearsalFailed", None, from_error=True))
        )

    def _fail(
        self, construct_id: str, kind: str | None, message: str = "", *, from_error: bool = False
    ) -> sfn.Pass:
        if from_error:
            parameters = {
                "kind": kind or sfn.JsonPath.string_at("$.error.Error"),
                "message": sfn.JsonPath.format(
                    "rehearsal: {}", sfn.JsonPath.string_at("$.error.Error")
                ),
            }
            state = sfn.Pass(
                self.scope, construct_id, parameters=parameters, result_path="$.failure"
            )
        else:
            state = sfn.Pass(
                self.scope,
                construct_id,
                result=sfn.Result.from_object({"kind": kind, "message": message}),
                result_path="$.failure",
            )
        state.next(self.failure_end)
        return state

    # -- deleting the copy, on every path -------------------------------------------------------------------------

    def _delete(self, label: str, then: sfn.IChainable) -> sfn.IChainable:
        """Delete the instance (and a clone's cluster), each caught: a copy that could not be deleted is
        recorded in ``$.copy_delete_error`` (and the execution's history) and the path goes on."""
        scope, o = self.scope, self.o
        note = sfn.Pass(
            scope,
            f"CopyNotDeleted{label}",
            result_path="$.copy_delete_error",
            parameters={
                "error": sfn.JsonPath.string_at("$.delete_error.Error"),
                "copy": sfn.JsonPath.string_at("$.copy.id"),
            },
        )
        note.next(then)
        instance = tasks.CallAwsService(
            scope,
            f"DeleteCopyInstance{label}",
            service="rds",
            action="deleteDBInstance",
            iam_action="rds:DeleteDBInstance",
            parameters={
                "DbInstanceIdentifier": self._instance_id(),
                "SkipFinalSnapshot": True,
                **({} if o.cluster else {"DeleteAutomatedBackups": True}),
            },
            iam_resources=self.copies["db"],
            result_path=sfn.JsonPath.DISCARD,
        )
        # only a busy copy is worth waiting for (bounded); anything else (gone already, never made) is caught
        instance.add_retry(
            errors=INSTANCE_BUSY, interval=Duration.seconds(30), max_attempts=10, backoff_rate=1
        )
        if not o.cluster:
            instance.add_catch(note, errors=["States.ALL"], result_path="$.delete_error")
            return instance.next(then)
        cluster = tasks.CallAwsService(
            scope,
            f"DeleteCopyCluster{label}",
            service="rds",
            action="deleteDBCluster",
            iam_action="rds:DeleteDBCluster",
            parameters={
                "DbClusterIdentifier": sfn.JsonPath.string_at("$.copy.id"),
                "SkipFinalSnapshot": True,
            },
            iam_resources=self.copies["cluster"],
            result_path=sfn.JsonPath.DISCARD,
        )
        # the cluster refuses deletion while its instance is still being deleted: bounded retries (10 min)
        cluster.add_retry(
            errors=CLUSTER_BUSY, interval=Duration.seconds(30), max_attempts=20, backoff_rate=1
        )
        cluster.add_catch(note, errors=["States.ALL"], result_path="$.delete_error")
        # an instance that could not be deleted (or never existed): the cluster is still deleted
        instance.add_catch(cluster, errors=["States.ALL"], result_path="$.delete_error")
        return instance.next(cluster).next(then)


REASON = (
    "The rehearsal's copies: created, tagged, described and deleted only under the workflow's prefix (each "
    "identifier is a hash of the execution, made at run time); restored only from the named source or the "
    "workflow's own snapshots."
)

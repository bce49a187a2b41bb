"""The workflow's helper function: what Step Functions cannot do by itself, none of it touching a database.

* ``prune``: delete the hook's manual snapshots of one instance/cluster beyond the newest ``keep`` (JSONPath
  cannot sort; the role may delete only snapshots named ``<prefix>-...``);
* ``summarize``: one summary of the per-database results (inline, or the Distributed Map's ResultWriter files
  in S3), and whether the failures stay within the tolerated percentage;
* CloudFormation (the deploy gate): a custom-resource event starts the gate's execution and returns; the
  gate answers CloudFormation through ``respond`` before it ends; an execution that ended without answering
  (timed out, aborted, failed outside its catches) is answered from its EventBridge status-change event.

Standard library and boto3 only (the Lambda runtime's). The asset is this file and the two standard-library
modules of ``lambda_fn`` it imports, shipped beside it (``workflow/helper.py``): the wire contract
(``lambda_fn/contract.py``: the statuses it counts) and the CloudFormation responder the hook's own custom
resource uses (``lambda_fn/aws/cfn_response.py``: one truncation and retry rule).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from lambda_fn.aws import cfn_response
from lambda_fn.contract import REACHED, Status

logger = logging.getLogger()
logger.setLevel(logging.INFO)

RESPOND_STATES = ("RespondSuccess", "RespondFailure")
PHYSICAL_ID = "alembic-hook-workflow"
MAX_FAILURES_LISTED = 50
MAX_MESSAGE = 300
MAX_CAUSE = 8000  # Step Functions allows 32,768 characters; the pipeline console shows far fewer
MAX_RESULT_BYTES = 64 * 1024 * 1024
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "RequestType" in event and "ResponseURL" in event:
        return start_gate(event)
    if event.get("source") == "aws.states" and "detail" in event:
        return execution_ended(event["detail"])
    action = event.get("action")
    if action == "prune":
        return prune(event)
    if action == "summarize":
        return summarize(event)
    if action == "respond":
        reason = event.get("reason") or reason_from_error(event.get("error"))
        return respond(event["cfn"], event["status"], reason=reason, data=_data(event.get("data")))
    raise ValueError(f"unknown action {action!r}")


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 4}
    )
    # one factory for several services (its overloads want literal names)
    factory: Any = boto3.client
    return factory(service, config=config)


# -- snapshots -------------------------------------------------------------------------------------------------


def prune(event: dict[str, Any]) -> dict[str, Any]:
    """Keep the newest ``keep`` of the hook's available snapshots of one source (and always ``current``)."""
    kind, source, prefix = event["kind"], event["source"], event["prefix"] + "-"
    keep, current = int(event["keep"]), event.get("current") or ""
    rds = _client("rds")
    if kind == "cluster":
        pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(
            DBClusterIdentifier=source, SnapshotType="manual", PaginationConfig={"MaxItems": 1000}
        )
        snapshots = [
            (s["DBClusterSnapshotIdentifier"], s) for p in pages for s in p["DBClusterSnapshots"]
        ]
    else:
        pages = rds.get_paginator("describe_db_snapshots").paginate(
            DBInstanceIdentifier=source, SnapshotType="manual", PaginationConfig={"MaxItems": 1000}
        )
        snapshots = [(s["DBSnapshotIdentifier"], s) for p in pages for s in p["DBSnapshots"]]
    ours = [
        (name, s)
        for name, s in snapshots
        if name.startswith(prefix) and s.get("Status") == "available"
    ]
    ours.sort(
        key=lambda item: (
            item[1].get("SnapshotCreateTime") is not None,
            item[1].get("SnapshotCreateTime"),
            item[0],
        ),
        reverse=True,
    )
    kept = [name for name, _ in ours[:keep]]
    if current and current not in kept:
        kept.append(current)
    deleted = []
    for name, _ in ours:
        if name in kept:
            continue
        if kind == "cluster":
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
        else:
            rds.delete_db_snapshot(DBSnapshotIdentifier=name)
        deleted.append(name)
    logger.info("pruned snapshots of %s %s: kept %s, deleted %s", kind, source, kept, deleted)
    return {"kept": kept, "deleted": deleted}


# -- the summary of a run --------------------------------------------------------------------------------------


def summarize(event: dict[str, Any]) -> dict[str, Any]:
    tolerated = float(event.get("tolerated_failure_percentage") or 0)
    inline = "results" in event
    results = event["results"] if inline else _written_results(event["result_writer"])
    summary = summary_of(results, tolerated)
    if inline and len(json.dumps(results)) < 128 * 1024:
        summary["results"] = [_compact(r) for r in results]
    return summary


def summary_of(results: list[Any], tolerated: float) -> dict[str, Any]:
    counts = {Status.APPLIED.value: 0, Status.UP_TO_DATE.value: 0, Status.FAILED.value: 0}
    failures: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    for index, result in enumerate(results):
        status = result.get("status") if isinstance(result, dict) else None
        if isinstance(status, str) and status in REACHED:
            counts[status] += 1
            continue
        counts[Status.FAILED] += 1
        error = result.get("error") if isinstance(result, dict) else None
        kind = str(error.get("kind")) if isinstance(error, dict) else "execution_failed"
        message = (
            str(error.get("message"))
            if isinstance(error, dict)
            else (
                "the database's execution failed without a result (see the Map Run's failed executions)"
            )
        )
        kinds[kind] = kinds.get(kind, 0) + 1
        if len(failures) < MAX_FAILURES_LISTED:
            failures.append(
                {"id": _id(result, index), "kind": kind, "message": message[:MAX_MESSAGE]}
            )
    total = len(results)
    # as a Distributed Map's ToleratedFailurePercentage: fail when the failed share exceeds it
    ok = counts[Status.FAILED] * 100 <= tolerated * total
    text = (
        f"{total} database{'s' if total != 1 else ''}: {counts[Status.APPLIED]} applied, "
        f"{counts[Status.UP_TO_DATE]} up to date, {counts[Status.FAILED]} failed"
    )
    if kinds:
        text += " (" + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) + ")"
    if failures:
        text += "; " + "; ".join(f"{f['id']}: {f['kind']}: {f['message']}" for f in failures[:5])
    summary: dict[str, Any] = {
        "databases": total,
        **counts,
        "failures": failures,
        "tolerated_failure_percentage": tolerated,
        "ok": ok,
        "message": text,
    }
    summary["cause"] = json.dumps({k: v for k, v in summary.items() if k != "cause"})[:MAX_CAUSE]
    return summary


def _id(result: Any, index: int) -> str:
    target = result.get("target") if isinstance(result, dict) else None
    if isinstance(target, dict):
        return str(target.get("id") or target.get("secret_arn") or f"#{index}")
    return f"#{index}"


def _compact(result: Any) -> Any:
    if not isinstance(result, dict):
        return result
    target = result.get("target") or {}
    keep = {
        k: result[k]
        for k in (
            "status",
            "from_revision",
            "to_revision",
            "applied_count",
            "iterations",
            "snapshot",
            "error",
        )
        if k in result
    }
    return {"id": target.get("id") or target.get("secret_arn"), **keep}


def _written_results(details: dict[str, Any]) -> list[Any]:
    """The children's outputs from a Distributed Map's ResultWriter: manifest.json names the SUCCEEDED,
    FAILED and PENDING files; each holds the child executions, their Output a JSON string."""
    s3 = _client("s3")
    bucket = details["Bucket"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=details["Key"])["Body"].read())
    results: list[Any] = []
    read = 0
    files = manifest.get("ResultFiles") or {}
    for status in ("SUCCEEDED", "FAILED", "PENDING"):
        for entry in files.get(status) or []:
            body = s3.get_object(
                Bucket=manifest.get("DestinationBucket") or bucket, Key=entry["Key"]
            )["Body"].read()
            read += len(body)
            if read > MAX_RESULT_BYTES:
                raise ValueError(f"the Map Run's results exceed {MAX_RESULT_BYTES} bytes")
            for execution in json.loads(body):
                output = execution.get("Output")
                try:
                    results.append(json.loads(output) if output else None)
                except ValueError:
                    results.append(None)
    return results


# -- CloudFormation: the deploy gate ---------------------------------------------------------------------------


def start_gate(event: dict[str, Any]) -> dict[str, Any]:
    """Create/Update: start the gate's execution (named after the request: a re-delivered event finds it)
    and return; the gate answers. Delete: answer at once (the schema is never touched)."""
    cfn = {
        key: event.get(key) for key in ("ResponseURL", "StackId", "RequestId", "LogicalResourceId")
    }
    cfn["PhysicalResourceId"] = event.get("PhysicalResourceId") or PHYSICAL_ID
    if event["RequestType"] == "Delete":
        return respond(cfn, "SUCCESS", data={"Status": "skipped"})
    properties = event.get("ResourceProperties") or {}
    payload = {
        "cfn": cfn,
        "revision": properties.get("TargetRevision") or "head",
        "snapshot": str(properties.get("Snapshot", "true")).lower() == "true",
    }
    try:
        execution = _client("stepfunctions").start_execution(
            stateMachineArn=properties["GateStateMachineArn"],
            name=f"cfn-{event['RequestId']}"[:80],
            input=json.dumps(payload),
        )
    except Exception as exc:  # every failure is answered, or CloudFormation waits an hour
        if type(exc).__name__ == "ExecutionAlreadyExists":
            return {"started": False, "reason": "already started for this request"}
        logger.exception("could not start the deploy gate")
        return respond(
            cfn,
            "FAILED",
            reason=f"Could not start the migration workflow: {type(exc).__name__}: {exc}",
        )
    return {"started": True, "executionArn": execution["executionArn"]}


def execution_ended(detail: dict[str, Any]) -> dict[str, Any]:
    """EventBridge's status change of a gate execution. One that failed, timed out or was aborted before its
    Respond state answered gets a FAILED answer here; any other is left alone (it answered itself)."""
    status = detail.get("status")
    if status not in FAILED_STATUSES:
        return {"answered": False, "reason": f"status {status}"}
    arn = detail["executionArn"]
    if responded(arn):
        return {"answered": False, "reason": "the execution answered CloudFormation itself"}
    raw = detail.get("input")
    if not raw:
        raw = _client("stepfunctions").describe_execution(executionArn=arn).get("input")
    cfn = json.loads(raw or "{}").get("cfn")
    if not isinstance(cfn, dict) or not cfn.get("ResponseURL"):
        return {"answered": False, "reason": "not a deploy-gate execution"}
    reason = (
        f"The migration workflow's deploy gate ended {status} before it answered "
        f"({detail.get('error') or ''} {detail.get('cause') or ''}".rstrip()
        + f"); execution {arn}."
    )
    respond(cfn, "FAILED", reason=reason)
    return {"answered": True}


def responded(execution_arn: str) -> bool:
    """Whether a Respond state of this execution finished (its history, newest first, bounded)."""
    sfn = _client("stepfunctions")
    token: str | None = None
    for _ in range(20):
        page = sfn.get_execution_history(
            executionArn=execution_arn,
            reverseOrder=True,
            maxResults=500,
            **({"nextToken": token} if token else {}),
        )
        for item in page.get("events", []):
            exited = item.get("stateExitedEventDetails") or {}
            if exited.get("name") in RESPOND_STATES:
                return True
        token = page.get("nextToken")
        if not token:
            return False
    return False


def reason_from_error(error: Any) -> str | None:
    """A readable Reason from the gate's Catch: the workflow's summary message when the nested execution failed
    (its cause is DescribeExecution's output, whose own cause is the summary), else the error and cause."""
    if not isinstance(error, dict):
        return None
    name, cause = str(error.get("Error") or "Error"), error.get("Cause")
    if name == "States.Timeout":
        return (
            "The migration workflow did not finish within the deploy gate's budget and was stopped (no further "
            "revision starts; the one running completes or rolls back). The database is at the last revision "
            "applied; the next deploy continues from there."
        )
    try:
        outer = json.loads(cause) if isinstance(cause, str) else None
        inner_cause = (
            (outer.get("Cause") or outer.get("cause")) if isinstance(outer, dict) else None
        )
        inner = json.loads(inner_cause) if isinstance(inner_cause, str) else None
    except ValueError:
        outer, inner_cause, inner = None, None, None
    if isinstance(inner, dict) and inner.get("message"):
        return f"Migration failed: {inner['message']}"
    if inner_cause:
        return f"Migration failed: {inner_cause}"
    return f"Migration failed: {name}: {cause or ''}".rstrip(": ")


def _data(summary: Any) -> dict[str, Any] | None:
    """The summary's counts and message as the custom resource's attributes (Fn::GetAtt)."""
    if not isinstance(summary, dict):
        return None
    keys = {
        "databases": "Databases",
        Status.APPLIED.value: "Applied",
        Status.UP_TO_DATE.value: "UpToDate",
        Status.FAILED.value: "Failed",
        "message": "Summary",
    }
    return {name: summary[key] for key, name in keys.items() if key in summary}


def respond(
    cfn: dict[str, Any],
    status: str,
    *,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """PUT the one response to CloudFormation's presigned URL (``cfn_response``: within 4096 bytes, a few
    short attempts); raises when it could not be delivered, so Step Functions (or Lambda) tries again."""
    body = {
        "Status": status,
        "PhysicalResourceId": cfn.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": cfn["StackId"],
        "RequestId": cfn["RequestId"],
        "LogicalResourceId": cfn["LogicalResourceId"],
        "NoEcho": False,
        "Data": {str(k): str(v) for k, v in (data or {}).items()},
    }
    if not cfn_response.put(
        cfn["ResponseURL"], cfn_response.fit(body, reason or status), log=logger
    ):
        raise RuntimeError(
            f"could not answer CloudFormation for request {cfn['RequestId']} (see the log above)"
        )
    logger.info("answered CloudFormation %s: %s", cfn["RequestId"], status)
    return {"answered": True, "status": status}

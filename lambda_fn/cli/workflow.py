"""`alembic-hook invoke --workflow ARN upgrade [REV]`: start one execution of the migration workflow (the Step
Functions state machine of ``infra/workflow``) and follow it to the end, printing its progress from the
execution's history: the plan, the snapshot, each invocation's revisions, the long lane, each failed database.

Bounded: the history is polled with backoff (1 s, growing to 10 s) for at most ``--wait-timeout`` seconds
(default 13 hours, past the workflow's default 12-hour bound); then the command stops following and says so, and
the execution goes on. Ctrl-C stops following, never the execution. Exit 0 when the execution succeeded, 1 when
it failed, timed out, was aborted or could not be followed to its end, 2 for a usage error.
"""

from __future__ import annotations

import getpass
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from lambda_fn.contract import SummaryWire, as_summary, failed

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL_FIRST, POLL_MAX, POLL_GROWTH = 1.0, 10.0, 1.5
DEFAULT_WAIT = 13 * 3600.0
HISTORY_PAGES = 20  # per poll: at most 20 x 100 new events are read between two polls
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(user: str | None = None, now: datetime | None = None) -> str:
    """``cli-<user>-<UTC time>-<random>``: who started it reads in the console; at most 80 characters."""
    user = _NAME.sub("-", user or _user())[:20] or "user"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"cli-{user}-{stamp}-{uuid.uuid4().hex[:8]}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in some containers
        return "user"


def run_workflow(
    state_machine_arn: str,
    *,
    revision: str | None = None,
    snapshot: bool | None = None,
    wait_seconds: float = DEFAULT_WAIT,
    as_json: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Start, follow, report. Never raises for an AWS error: it says what happened and returns 1."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        print(f"error: boto3 is needed to start the workflow: {exc}", file=err)
        return EXIT_FAILED
    payload: dict[str, Any] = {"revision": revision or "head"}
    if snapshot is not None:
        payload["snapshot"] = snapshot
    try:
        client = client or _client()
        started = client.start_execution(
            stateMachineArn=state_machine_arn, name=execution_name(), input=json.dumps(payload)
        )
    except (BotoCoreError, ClientError) as exc:
        print(f"error: could not start the workflow {state_machine_arn}: {exc}", file=err)
        return EXIT_FAILED
    arn = started["executionArn"]
    print(f"started {arn}", file=err)
    progress = Progress(client, arn, err)
    deadline = clock() + wait_seconds
    interval = POLL_FIRST
    try:
        while True:
            described = client.describe_execution(executionArn=arn)
            progress.poll()
            if described["status"] != "RUNNING":
                break
            if clock() >= deadline:
                print(
                    f"still running after {wait_seconds:g} s; it goes on without this command: {arn}",
                    file=err,
                )
                return EXIT_FAILED
            sleep(interval)
            interval = min(POLL_MAX, interval * POLL_GROWTH)
    except KeyboardInterrupt:
        print(f"\nstopped following; the execution goes on: {arn}", file=err)
        return EXIT_FAILED
    except (BotoCoreError, ClientError) as exc:
        print(f"error: lost track of {arn}: {exc}; the execution goes on", file=err)
        return EXIT_FAILED
    return report(described, as_json=as_json, out=out, err=err)


def _client() -> Any:
    import boto3

    from lambda_fn.aws.config import bounded_config

    return boto3.client("stepfunctions", config=bounded_config())


def report(described: dict[str, Any], *, as_json: bool, out: TextIO, err: TextIO) -> int:
    status = described["status"]
    if status == "SUCCEEDED":
        summary = as_summary(_json(described.get("output")) or {})
        print(json.dumps(summary, indent=2) if as_json else render_summary(summary), file=out)
        return EXIT_OK
    cause = _json(described.get("cause"))
    if as_json:
        print(
            json.dumps(
                {
                    "status": status.lower(),
                    "error": described.get("error"),
                    "summary": cause if isinstance(cause, dict) else described.get("cause"),
                },
                indent=2,
            ),
            file=out,
        )
    elif isinstance(cause, dict) and "databases" in cause:
        print(render_summary(as_summary(cause)), file=out)
    else:
        text = described.get("cause") or ""
        print(f"{status.lower()}: {described.get('error') or ''} {text}".rstrip(), file=out)
    return EXIT_FAILED


def render_summary(summary: SummaryWire) -> str:
    lines = [str(summary.get("message") or "no summary")]
    for result in summary.get("results") or []:
        if not isinstance(result, dict):
            continue
        line = f"  {result.get('id')}: {result.get('status')}"
        if failed(result):
            error = result.get("error") or {}
            line += f" ({error.get('kind')}: {error.get('message')})"
        else:
            line += (
                f", at {result.get('to_revision')} ({result.get('applied_count', 0)} applied in "
                f"{result.get('iterations', 0)} invocation(s))"
            )
            if result.get("snapshot"):
                line += f", snapshot {result['snapshot']}"
        lines.append(line)
    if not summary.get("results"):
        lines += [
            f"  {f.get('id')}: {f.get('kind')}: {f.get('message')}"
            for f in summary.get("failures") or []
        ]
    return "\n".join(lines)


@dataclass
class Progress:
    """The execution's history since the last poll, as lines a person follows."""

    client: Any
    execution_arn: str
    err: TextIO
    last_id: int = 0
    lines: list[str] = field(default_factory=list)

    def poll(self) -> None:
        for event in self._new_events():
            line = describe_event(event)
            if line:
                self.lines.append(line)
                print(line, file=self.err)

    def _new_events(self) -> list[dict[str, Any]]:
        fresh: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(HISTORY_PAGES):
            page = self.client.get_execution_history(
                executionArn=self.execution_arn,
                reverseOrder=True,
                maxResults=100,
                **({"nextToken": token} if token else {}),
            )
            events = page.get("events", [])
            older = [e for e in events if int(e["id"]) > self.last_id]
            fresh += older
            token = page.get("nextToken")
            if len(older) < len(events) or not token:
                break
        fresh.sort(key=lambda e: int(e["id"]))
        if fresh:
            self.last_id = int(fresh[-1]["id"])
        return fresh


def describe_event(event: dict[str, Any]) -> str | None:
    """One history event as a progress line, or None for the many that say nothing new."""
    kind = event.get("type", "")
    exited = event.get("stateExitedEventDetails") or {}
    entered = event.get("stateEnteredEventDetails") or {}
    name = exited.get("name") or entered.get("name") or ""
    data = _json(exited.get("output") if exited else entered.get("input"))
    for (wanted_kind, matches), line in _LINES:
        if kind == wanted_kind and matches(name):
            return line(data if isinstance(data, dict) else {})
    return None


def _invocation(data: dict[str, Any]) -> str:
    result = data.get("result") or {}
    text = (
        f"invocation {int(_get(data, 'loop', 'iteration') or 0) + 1}: {result.get('status')}, "
        f"{result.get('applied_count')} applied, at {result.get('to_revision')}, "
        f"{result.get('pending_count')} pending"
    )
    if result.get("long_revision"):
        text += f"; {result['long_revision']} is declared long"
    return text


def _failed(data: dict[str, Any]) -> str:
    target, error = data.get("target") or {}, data.get("error") or {}
    return f"failed: {target.get('id') or target.get('secret_arn')}: {error.get('kind')}: {error.get('message')}"


_LINES: list[tuple[tuple[str, Callable[[str], bool]], Callable[[dict[str, Any]], str]]] = [
    (
        ("TaskStateExited", lambda n: n == "Plan"),
        lambda d: f"plan: {_get(d, 'plan', 'pending_count')} revision(s) pending",
    ),
    (
        ("TaskStateEntered", lambda n: n.startswith("Create") and n.endswith("Snapshot")),
        lambda d: f"snapshot: creating {_get(d, 'snapshot', 'id')}",
    ),
    (
        ("PassStateExited", lambda n: n.endswith("SnapshotTaken")),
        lambda d: f"snapshot: {d.get('snapshot_id')} available",
    ),
    (("TaskStateExited", lambda n: n == "Migrate"), _invocation),
    (
        ("TaskStateEntered", lambda n: n == "RunLongLane"),
        lambda d: f"long lane: building {_get(d, 'result', 'long_revision')} in CodeBuild",
    ),
    (("TaskStateExited", lambda n: n == "RunLongLane"), lambda d: "long lane: done"),
    (
        ("MapRunStarted", lambda n: True),
        lambda d: "fleet: the databases' executions are running (see the Map Run in the console)",
    ),
    (("PassStateExited", lambda n: n == "Failed"), _failed),
    (
        ("TaskStateExited", lambda n: n == "Summarize"),
        lambda d: f"summary: {_get(d, 'summary', 'message')}",
    ),
]


def _get(data: dict[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None

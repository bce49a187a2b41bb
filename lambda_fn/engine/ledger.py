"""The ledger: every run and every revision on record, in two tables the hook owns in the target database.

- `<prefix>runs`: one row per run that could change the schema (upgrade, downgrade, stamp, accept): the
  command, the caller and its reference (job id, stack and request ids, Lambda request id, CLI user and host),
  the code's identity, start and end, status, from/to revision, the error. Written when the run starts,
  closed when it ends; a run whose runner died is closed as `abandoned` by the next run, under the lock.
- `<prefix>revisions`: one row per revision applied, downgraded, stamped, accepted or adopted as baseline:
  its run, direction, the sha256 of its file, start, end, duration. A revision's row is written by Alembic's
  `on_version_apply` hook on the hook's connection, so it commits in the same transaction as the revision's
  version-table update (an autocommit block too: Alembic updates the version after the block, in the
  transaction it opens again); the ledger and the version table can never disagree.

Integrity: before any DDL, every revision the ledger holds as applied is hashed again (its file's bytes, never
imported) and compared: an edited file refuses the run (`revision_changed`) until an operator `accept`s it.
The SQL uses `:name` parameters, which both SQLAlchemy's text() and pg8000's native API take.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError
from lambda_fn.request import Origin
from lambda_fn.settings import Settings

# (sql with :name parameters, parameters) -> rows; the full path runs it on its SQLAlchemy connection, the
# fast path on its pg8000 one
RunSql = Callable[[str, dict[str, Any]], list[Any]]


@functools.cache
def _hook_version() -> str:
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function:  # the asset carries no package metadata; the function version names the code
        return f"{function}:{os.environ.get('AWS_LAMBDA_FUNCTION_VERSION', '$LATEST')}"
    try:
        return f"alembic-hook {metadata.version('alembic-deploy-hook')}"
    except metadata.PackageNotFoundError:
        return "alembic-hook (unpackaged)"


def code_identity(migrations_fingerprint: str) -> str:
    """The code that ran: the hook's version (or the Lambda function version) and the migrations' content."""
    return f"{_hook_version()}; migrations {migrations_fingerprint[:16]}"


def cli_origin() -> Origin:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Origin("cli", {"user": user, "host": socket.gethostname()})


@dataclass(frozen=True)
class Names:
    schema: str | None
    prefix: str

    @classmethod
    def of(cls, settings: Settings) -> Names:
        return cls(settings.ledger_schema, settings.ledger_prefix)

    def table(self, name: str) -> str:
        quoted = f'"{self.prefix}{name}"'
        return f'"{self.schema}".{quoted}' if self.schema else quoted

    @property
    def runs(self) -> str:
        return self.table("runs")

    @property
    def revisions(self) -> str:
        return self.table("revisions")


@dataclass
class Ledger:
    execute: RunSql
    commit: Callable[[], None]
    names: Names
    run_id: int | None = None
    step_started: datetime | None = None

    def _exec(self, sql: str, **params: Any) -> list[Any]:
        return self.execute(sql, params)

    def ensure(self) -> bool:
        """Create the tables if needed (under the migration lock); True when they were just created."""
        exists = self._exec("SELECT to_regclass(:name) IS NOT NULL", name=self.names.runs)[0][0]
        if exists:
            self.commit()
            return False
        if self.names.schema:
            self._exec(f'CREATE SCHEMA IF NOT EXISTS "{self.names.schema}"')
        self._exec(f"""CREATE TABLE IF NOT EXISTS {self.names.runs} (
            id bigserial PRIMARY KEY, command text NOT NULL, caller text NOT NULL,
            caller_reference jsonb NOT NULL DEFAULT '{{}}', code text, started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz, status text NOT NULL, from_revision text, to_revision text,
            error_kind text, error_message text, error_revision text, acknowledged jsonb)""")
        self._exec(f"""CREATE TABLE IF NOT EXISTS {self.names.revisions} (
            id bigserial PRIMARY KEY, run_id bigint NOT NULL REFERENCES {self.names.runs} (id),
            revision text NOT NULL, direction text NOT NULL, sha256 text, verified boolean NOT NULL DEFAULT true,
            started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL, duration_ms double precision)""")
        self.commit()
        return True

    def start(
        self,
        command: str,
        origin: Origin,
        code: str,
        from_revision: str | None,
        status: str = "running",
    ) -> int:
        finished = "now()" if status != "running" else "NULL"
        row = self._exec(
            f"INSERT INTO {self.names.runs} (command, caller, caller_reference, code, status, from_revision, "
            f"to_revision, finished_at) VALUES (:command, :caller, CAST(:reference AS jsonb), :code, :status, :frm, "
            f"CASE WHEN :status = 'running' THEN NULL ELSE :frm END, {finished}) RETURNING id",
            command=command,
            caller=origin.caller,
            reference=json.dumps(origin.reference),
            code=code,
            status=status,
            frm=from_revision,
        )
        self.commit()
        self.run_id = int(row[0][0])
        return self.run_id

    def close_abandoned(self, current: str | None = None) -> list[int]:
        """Runs still `running` while this run holds the lock lost their runner: close them with what is known.
        `current` is the database's revision now (read under the lock): a run that committed revisions left the
        database there, since nothing else moved it before this run took the lock; one that committed none
        left it where it found it."""
        rows = self._exec(
            f"UPDATE {self.names.runs} r SET status = 'abandoned', finished_at = now(), error_kind = 'abandoned', "
            f"to_revision = coalesce(r.to_revision, CASE WHEN EXISTS (SELECT 1 FROM {self.names.revisions} v "
            f"WHERE v.run_id = r.id) THEN NULLIF(CAST(:current AS text), '') ELSE r.from_revision END), "
            f"error_message = 'the runner stopped before closing its run; closed by run ' || :me || '; revisions it "
            f"committed: ' || coalesce((SELECT string_agg(v.revision, ', ' ORDER BY v.id) FROM "
            f"{self.names.revisions} v WHERE v.run_id = r.id), 'none') "
            f"WHERE status = 'running' AND id <> :me RETURNING id",
            me=self.run_id or 0,
            current=current or "",
        )
        self.commit()
        return [int(r[0]) for r in rows]

    def adopt(self, applied: list[tuple[str, str]]) -> None:
        """A database migrated before the ledger: its applied revisions recorded as baseline, with today's file
        checksums (what they were when they ran cannot be known: verified = false)."""
        now = datetime.now(UTC)
        for revision, sha in applied:
            self._exec(
                f"INSERT INTO {self.names.revisions} (run_id, revision, direction, sha256, verified, "
                f"started_at, finished_at, duration_ms) VALUES (:run, :rev, 'baseline', :sha, false, :t, :t, 0)",
                run=self.run_id,
                rev=revision,
                sha=sha,
                t=now,
            )
        self.commit()

    def recorded(self) -> dict[str, tuple[str, str | None]]:
        """revision -> (latest direction, sha256) for every revision the ledger knows."""
        rows = self._exec(
            f"SELECT DISTINCT ON (revision) revision, direction, sha256 FROM {self.names.revisions} "
            f"ORDER BY revision, id DESC"
        )
        self.commit()
        return {str(r[0]): (str(r[1]), r[2]) for r in rows}

    def check_integrity(self, applied: set[str], sha_of: dict[str, str]) -> None:
        """Refuse when a revision the database has applied differs from the file deployed now."""
        changed = [
            (rev, old, sha_of[rev])
            for rev, (direction, old) in sorted(self.recorded().items())
            if rev in applied
            and direction != "downgrade"
            and old
            and rev in sha_of
            and sha_of[rev] != old
        ]
        if changed:
            rev, old, new = changed[0]
            others = f" (and {', '.join(r for r, _, _ in changed[1:])})" if len(changed) > 1 else ""
            raise HookError(
                ErrorKind.REVISION_CHANGED,
                f"Revision {rev}{others} was edited after it ran: the ledger recorded sha256 {old}, the "
                f"deployed file has {new}. Restore the file, or, if the edit is deliberate and the "
                f"database needs nothing more, accept it: `alembic-hook accept {rev} --yes` (Lambda: "
                f'{{"command": "accept", "revision": "{rev}", "confirm": "accept"}}). Nothing was run.',
                rev,
            )

    def record_step(self, revision: str, direction: str, sha: str | None) -> None:
        """Inside the revision's transaction (Alembic's on_version_apply)."""
        started = self.step_started or datetime.now(UTC)
        finished = datetime.now(UTC)
        self._exec(
            f"INSERT INTO {self.names.revisions} (run_id, revision, direction, sha256, started_at, "
            f"finished_at, duration_ms) VALUES (:run, :rev, :dir, :sha, :s, :f, :ms)",
            run=self.run_id,
            rev=revision,
            dir=direction,
            sha=sha,
            s=started,
            f=finished,
            ms=round((finished - started).total_seconds() * 1000, 1),
        )

    def finish(
        self,
        status: str,
        to_revision: str | None,
        error: HookError | None = None,
        acknowledged: dict[str, Any] | None = None,
    ) -> None:
        self._exec(
            f"UPDATE {self.names.runs} SET status = :status, finished_at = now(), to_revision = :to, "
            f"error_kind = :kind, error_message = :msg, error_revision = :rev, "
            f"acknowledged = CAST(:ack AS jsonb) WHERE id = :id",
            status=status,
            to=to_revision,
            kind=error.kind.value if error else None,
            msg=error.message[:2000] if error else None,
            rev=error.revision if error else None,
            ack=json.dumps(acknowledged) if acknowledged else None,
            id=self.run_id,
        )
        self.commit()

    def log(self, limit: int, revision: str | None) -> list[dict[str, Any]]:
        """Runs newest first, each with its revision rows."""
        where = (
            f"WHERE id IN (SELECT run_id FROM {self.names.revisions} WHERE revision = :rev)"
            if revision
            else ""
        )
        runs = self._exec(
            f"SELECT id, command, caller, caller_reference, code, started_at, finished_at, status, "
            f"from_revision, to_revision, error_kind, error_message, error_revision "
            f"FROM {self.names.runs} {where} ORDER BY id DESC LIMIT :limit",
            limit=limit,
            rev=revision,
        )
        ids = [int(r[0]) for r in runs]
        steps: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for s in self._exec(
                f"SELECT run_id, revision, direction, sha256, verified, started_at, finished_at, "
                f"duration_ms FROM {self.names.revisions} WHERE run_id = ANY(:ids) ORDER BY id",
                ids=ids,
            ):
                steps[int(s[0])].append(
                    {
                        "revision": s[1],
                        "direction": s[2],
                        "sha256": s[3],
                        "verified": s[4],
                        "started_at": _iso(s[5]),
                        "finished_at": _iso(s[6]),
                        "duration_ms": s[7],
                    }
                )
        self.commit()
        keys = (
            "id",
            "command",
            "caller",
            "caller_reference",
            "code",
            "started_at",
            "finished_at",
            "status",
            "from_revision",
            "to_revision",
            "error_kind",
            "error_message",
            "error_revision",
        )
        return [
            {
                **{
                    k: (_iso(v) if isinstance(v, datetime) else v)
                    for k, v in zip(keys, r, strict=True)
                },
                "revisions": steps[int(r[0])],
            }
            for r in runs
        ]

    def applied_by(self) -> dict[str, dict[str, Any]]:
        """revision -> when and by which run it was last applied (for `history`)."""
        rows = self._exec(
            f"SELECT DISTINCT ON (v.revision) v.revision, v.run_id, v.finished_at, v.direction "
            f"FROM {self.names.revisions} v ORDER BY v.revision, v.id DESC"
        )
        self.commit()
        return {
            str(r[0]): {"run_id": int(r[1]), "applied_at": _iso(r[2]), "direction": r[3]}
            for r in rows
        }


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None

"""Locks of a statement in an autocommit block, sampled: such a statement is its own transaction, so its locks
end with it and the migration's session can never read them afterwards. While it runs, a second session of
the copy reads `pg_locks` for the migration's backend every SAMPLE_SECONDS; every mode seen is reported as held
for the whole statement (an upper bound: in autocommit a lock cannot outlive its statement). A lock held for
less than one interval can be missed; the statement's duration is measured either way.

The sampling session runs in autocommit, one short transaction per read: CREATE INDEX CONCURRENTLY waits for
every transaction older than its phases, and must never wait for this one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

SAMPLE_SECONDS = 0.005

# the migration backend's locks on user relations, an index or TOAST table counted as its table; a relation
# without a pg_class row (dropped meanwhile) is given by its oid for the caller to name
SAMPLE_SQL = """
SELECT coalesce(i.indrelid, t.oid, l.relation)::int8, l.mode, l.relation::int8
  FROM pg_locks l
  LEFT JOIN pg_index i ON i.indexrelid = l.relation
  LEFT JOIN pg_class t ON t.reltoastrelid = l.relation
 WHERE l.pid = {pid} AND l.locktype = 'relation' AND l.granted AND l.relation >= 16384
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


class Sampler:
    """One per rehearsal: its session is opened at the first autocommit statement and closed at the end."""

    def __init__(self, connect: Callable[[], Any], pid: int) -> None:
        self._connect = connect
        self._pid = pid
        self._raw: Any = (
            None  # SQLAlchemy's connection record (closing it closes the session: NullPool)
        )
        self._dbapi: Any = None  # the pg8000 connection inside it
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._seen: set[tuple[int, str, int]] = set()
        self.error: str | None = None

    def start(self) -> None:
        self.stop()  # a statement that failed never reached its after-event
        self.error = None
        if self._dbapi is None:
            self._raw = self._connect()
            self._dbapi = getattr(self._raw, "dbapi_connection", self._raw)
            self._dbapi.autocommit = True
        self._stop.clear()
        self._seen = set()
        self._thread = threading.Thread(target=self._run, name="rehearsal-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> set[tuple[int, str, int]]:
        """(table oid, mode, relation) of every lock seen while the statement ran."""
        if self._thread is None:
            return set()
        self._stop.set()
        self._thread.join()
        self._thread = None
        return self._seen

    def close(self) -> None:
        self.stop()
        if self._raw is not None:
            # the copy's session may be gone already: nothing to keep
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = self._dbapi = None

    def _run(self) -> None:
        sql = SAMPLE_SQL.format(pid=int(self._pid))
        cursor = self._dbapi.cursor()
        try:
            while True:
                cursor.execute(sql)
                self._seen.update((int(r[0]), str(r[1]), int(r[2])) for r in cursor.fetchall())
                if self._stop.wait(SAMPLE_SECONDS):  # the sampling interval, not a synchronisation
                    break
        except Exception as exc:  # noqa: BLE001 - a failed sample must not touch the migration: reported instead
            self.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

"""Which environment variables env.py read while it decided its version table.

The fast path remembers env.py's version table by the content of env.py and the ini. That is only sound when
env.py's answer depends on nothing else, and a common per-tenant pattern breaks it:
`version_table = "alembic_version_" + os.environ["TENANT"]`. So while env.py is probed, `os.environ` is
replaced by a mapping that records each name read (and modules env.py imports are recorded the same way).
The record keeps a digest of each value (never the value: a cache file must not hold a secret); the fast path
answers only when every recorded variable still has the value it had, and an env.py that read the whole
environment (iterated or copied it) is never remembered at all.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field

ABSENT = "-"  # the digest of a variable that was not set


def digest(value: str | None) -> str:
    return ABSENT if value is None else hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclass
class EnvReads:
    """What one probe read: name -> digest of its value then; `whole` when it read the whole environment."""

    names: dict[str, str] = field(default_factory=dict)
    whole: bool = False

    def still_holds(self, environ: Mapping[str, str] | None = None) -> bool:
        """Every recorded variable has the value it had (a record of the whole environment never holds)."""
        env = os.environ if environ is None else environ
        return not self.whole and all(
            digest(env.get(name)) == seen for name, seen in self.names.items()
        )


class _Recording(MutableMapping[str, str]):
    """os.environ as env.py sees it during the probe: every read of a name recorded, writes passed through."""

    def __init__(self, real: MutableMapping[str, str], reads: EnvReads) -> None:
        self._real, self._reads = real, reads

    def _note(self, key: str) -> None:
        self._reads.names[key] = digest(self._real.get(key))

    def __getitem__(self, key: str) -> str:
        self._note(key)
        return self._real[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._note(key)
        return key in self._real

    def __setitem__(self, key: str, value: str) -> None:
        self._real[key] = value

    def __delitem__(self, key: str) -> None:
        del self._real[key]

    def __iter__(self) -> Iterator[str]:
        self._reads.whole = True
        return iter(self._real)

    def __len__(self) -> int:
        self._reads.whole = True
        return len(self._real)

    def copy(self) -> dict[str, str]:
        self._reads.whole = True
        return dict(self._real)


_lock = threading.Lock()  # one probe swaps os.environ at a time


@contextmanager
def recorded() -> Iterator[EnvReads]:
    """Record the environment reads of the block (os.environ[...], os.getenv, `in`, iteration)."""
    reads = EnvReads()
    with _lock:
        real = os.environ
        # os.getenv reads this module global; the real mapping (and the process environment) stay as they are
        os.environ = _Recording(real, reads)  # type: ignore[assignment]  # noqa: B003
        try:
            yield reads
        finally:
            os.environ = real  # noqa: B003

"""Small generated Alembic projects for scenarios the example migrations cannot show (a failing revision,
a slow one, two heads, a thousand revisions)."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

# A revision that sleeps while `hook_test.sleep` (set per database) says so: lets a test catch it mid-run.
SLEEP_SQL = (
    "SELECT pg_sleep(coalesce(nullif(current_setting('hook_test.sleep', true), '')::float, 0))"
)


@dataclass(frozen=True)
class Rev:
    id: str
    down: str | tuple[str, ...] | None
    upgrade: str = "pass"
    downgrade: str = "pass"
    doc: str = ""


def write_project(root: Path, revisions: list[Rev]) -> Path:
    """alembic.ini + the example env.py + the given revisions; returns the ini's path."""
    (root / "migrations" / "versions").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "alembic" / "env.py", root / "migrations" / "env.py")
    shutil.copy(REPO / "alembic" / "script.py.mako", root / "migrations" / "script.py.mako")
    ini = root / "alembic.ini"
    ini.write_text(
        "[alembic]\nscript_location = %(here)s/migrations\npath_separator = os\nsqlalchemy.url =\n"
    )
    for rev in revisions:
        write_revision(root, rev)
    return ini


def write_revision(root: Path, rev: Rev) -> None:
    def block(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")

    text = (
        f'"""{rev.doc or rev.id}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {rev.id!r}\ndown_revision = {rev.down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{block(rev.upgrade)}\n\n\ndef downgrade():\n{block(rev.downgrade)}\n"
    )
    (root / "migrations" / "versions" / f"{rev.id}.py").write_text(text)


def chain(n: int, prefix: str = "r") -> list[Rev]:
    """n trivial revisions in a line."""
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    return [
        Rev(rid, ids[i - 1] if i else None, "op.execute('SELECT 1')") for i, rid in enumerate(ids)
    ]

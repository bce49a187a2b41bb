"""Every file path the README and the docs/ pages mention exists, and every page they link to: a newcomer
following them never lands on a file that was moved or deleted. Covers every docs/*.md, including pages
added later."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# `code` spans and markdown link targets
CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# a path worth checking starts with one of the repository's own top-level entries
TOP = {p.name for p in REPO.iterdir() if not p.name.startswith(".git")} - {"node_modules", ".venv"}


def mentioned_paths(text: str) -> set[str]:
    found = set()
    for span in CODE.findall(text):
        token = span.strip().split("::", 1)[0].rstrip(".,:;")  # a pytest node id names its file
        if " " in token or any(c in token for c in "*<>{}$=()'\""):
            continue
        first = token.split("/", 1)[0]
        if first in TOP and ("/" in token or token in TOP):
            found.add(token)
    return found


def linked_pages(text: str) -> set[str]:
    return {
        t.split("#", 1)[0] for t in LINK.findall(text) if "://" not in t and not t.startswith("#")
    }


def test_a_pytest_node_id_is_checked_as_its_file() -> None:
    assert mentioned_paths("`tests/unit/x.py::test_y`") == {"tests/unit/x.py"}


def test_there_are_pages_to_check() -> None:
    assert len(PAGES) > 5 and all(p.is_file() for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_mentioned_path_exists(page: Path) -> None:
    text = page.read_text()
    missing = sorted(p for p in mentioned_paths(text) if not (REPO / p).exists())
    missing += sorted(f"link {t}" for t in linked_pages(text) if not (page.parent / t).exists())
    assert not missing, f"{page.relative_to(REPO)} mentions paths that do not exist: {missing}"


def test_the_check_finds_a_stale_path() -> None:
    assert mentioned_paths(
        "see `lambda_fn/database.py`, `infra/bundling.py` and `ARCHITECTURE.md`"
    ) == {"lambda_fn/database.py", "infra/bundling.py", "ARCHITECTURE.md"}
    assert not (REPO / "lambda_fn/database.py").exists()


def test_every_docs_page_is_linked() -> None:
    """From the README or from another page: a page nothing links to is a page nobody finds."""
    linked = {
        (page.parent / target).resolve()
        for page in PAGES
        for target in linked_pages(page.read_text())
    }
    orphans = sorted(p.name for p in PAGES if p.parent.name == "docs" and p.resolve() not in linked)
    assert not orphans, f"docs pages nothing links to: {orphans}"

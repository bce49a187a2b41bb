"""stdout carries the result and nothing else: while the engine runs, whatever the project's env.py and
revisions print or log to stdout (print(), structlog, a logging handler, a C extension or a subprocess writing
to fd 1) goes to stderr, so `--json` output is exactly one JSON object."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def to_stderr() -> Iterator[None]:
    original = sys.stdout
    original.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (an embedded interpreter): the Python-level redirect still holds
        saved = None
    if saved is not None:
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        original.flush()  # a handler that kept the original stdout object: its lines go to stderr too
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)

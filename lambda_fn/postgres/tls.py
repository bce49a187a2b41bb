"""TLS to PostgreSQL with libpq's sslmode meaning (pg8000's own default silently falls back to plaintext
and never verifies)."""

from __future__ import annotations

import functools
import os
import ssl

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError


def ssl_context(mode: str, rootcert: str | None) -> ssl.SSLContext | bool:
    """The pg8000 `ssl_context` for a libpq sslmode and root certificate file ("system" or None: the
    system store). One context per mode and file for the process: loading the system store costs 25-60 ms,
    and every connection (and every engine SQLAlchemy builds) asks for one. A context only configures the
    sockets wrapped with it; a rewritten CA file (another size or mtime) is loaded again."""
    if mode == "disable":
        return False
    cafile = None if rootcert in (None, "system") else rootcert
    stamp = None
    if cafile is not None:
        try:
            st = os.stat(cafile)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass  # create_default_context says what is wrong with the file
    return _context(mode, cafile, stamp)


@functools.lru_cache(maxsize=16)
def _context(mode: str, cafile: str | None, stamp: tuple[int, int] | None) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise HookError(
            ErrorKind.TLS,
            f"Cannot load the CA bundle {cafile!r} (DB_SSLROOTCERT/sslrootcert): "
            f"{exc}. Point it at the RDS CA bundle shipped with the function.",
        ) from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == "verify-full":
        return ctx
    ctx.check_hostname = False
    # libpq: `require` with a root certificate present behaves like verify-ca
    if mode == "require" and cafile is None:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx

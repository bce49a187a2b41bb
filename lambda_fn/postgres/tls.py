"""TLS to PostgreSQL with libpq's sslmode meaning (pg8000's own default silently falls back to plaintext
and never verifies)."""

from __future__ import annotations

import ssl

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError


def ssl_context(mode: str, rootcert: str | None) -> ssl.SSLContext | bool:
    """The pg8000 `ssl_context` for a libpq sslmode and root certificate file ("system" or None: the
    system store)."""
    if mode == "disable":
        return False
    cafile = None if rootcert in (None, "system") else rootcert
    try:
        ctx = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise HookError(ErrorKind.TLS, f"Cannot load the CA bundle {cafile!r} (DB_SSLROOTCERT/sslrootcert): "
                        f"{exc}. Point it at the RDS CA bundle shipped with the function.") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == "verify-full":
        return ctx
    ctx.check_hostname = False
    # libpq: `require` with a root certificate present behaves like verify-ca
    if mode == "require" and cafile is None:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx

"""Where the database credentials come from, in one order, into one value.

1. a Secrets Manager secret named by DB_SECRET_ARN (RDS/CDK secret JSON; DB_HOST/DB_PORT/DB_NAME fill or
   override its fields, since an RDS-managed secret holds only username and password);
2. DATABASE_URL in any common form (postgres://, postgresql://, +asyncpg, +psycopg2, +psycopg, +pg8000);
3. POSTGRES_HOST/PORT/DB/USER/PASSWORD, then DATABASE_HOST/PORT/NAME/USER/PASSWORD.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lambda_fn.contract import ErrorKind
from lambda_fn.errors import HookError
from lambda_fn.settings import Settings, parse_sslmode

# (secret id, force a fresh read) -> the secret's string value
SecretReader = Callable[[str, bool], str]

_DRIVERS = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg2",
    "postgresql+psycopg",
    "postgresql+pg8000",
    "postgresql+psycopg2cffi",
    "postgres+asyncpg",
    "postgres+psycopg2",
}


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    database: str
    username: str
    password: str = field(repr=False)
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    source: str = (
        ""  # where these came from, for error messages ("secret <arn>", "DATABASE_URL", ...)
    )

    def describe(self) -> str:
        """host:port/dbname as user - never the password."""
        return f"{self.username}@{self.host}:{self.port}/{self.database}"


def resolve(
    settings: Settings, read_secret: SecretReader | None = None, *, force_fetch: bool = False
) -> Credentials:
    env = settings.env
    if secret_id := settings.secret_id:
        if read_secret is None:
            raise HookError(
                ErrorKind.CONFIGURATION, "DB_SECRET_ARN is set but no secret reader is available."
            )
        return _from_secret(secret_id, read_secret(secret_id, force_fetch), settings)
    if url := env.get("DATABASE_URL"):
        return from_url(url, settings)
    for prefix, db_key in (("POSTGRES", "POSTGRES_DB"), ("DATABASE", "DATABASE_NAME")):
        if env.get(f"{prefix}_HOST"):
            return _from_fields(
                {
                    "host": env.get(f"{prefix}_HOST"),
                    "port": env.get(f"{prefix}_PORT") or 5432,
                    "dbname": env.get(db_key),
                    "username": env.get(f"{prefix}_USER"),
                    "password": env.get(f"{prefix}_PASSWORD"),
                },
                settings,
                source=f"{prefix}_* variables",
            )
    raise HookError(
        ErrorKind.CONFIGURATION,
        "No database credentials: set DB_SECRET_ARN (a Secrets Manager secret), DATABASE_URL, or "
        "POSTGRES_HOST/PORT/DB/USER/PASSWORD (CLI: --secret-id or --database-url).",
    )


def from_url(raw: str, settings: Settings) -> Credentials:
    """The RFC 3986 reading SQLAlchemy's make_url gives these URLs, with the standard library (the fast path
    imports no SQLAlchemy)."""
    # never echo the URL: it holds the password
    invalid = HookError(
        ErrorKind.CONFIGURATION,
        "DATABASE_URL is not a valid URL; expected postgresql://user:password@host:5432/dbname.",
    )
    try:
        url = urlsplit(raw.strip())
        port = url.port
    except ValueError:
        raise invalid from None
    if not url.scheme or not url.netloc:
        raise invalid
    if url.scheme not in _DRIVERS:
        raise HookError(
            ErrorKind.CONFIGURATION,
            f"DATABASE_URL scheme {url.scheme!r} is not PostgreSQL; "
            "use postgresql:// (any +driver suffix is accepted; the hook always uses pg8000).",
        )
    query = dict(parse_qsl(url.query))
    fields: dict[str, Any] = {
        "host": url.hostname,
        "port": port or 5432,
        "dbname": unquote(url.path.lstrip("/")),
        "username": unquote(url.username or ""),
        "password": unquote(url.password or ""),
    }
    creds = _from_fields(fields, settings, source="DATABASE_URL")
    if "sslmode" in query:
        creds = replace(
            creds, sslmode=parse_sslmode("DATABASE_URL sslmode", query["sslmode"].strip())
        )
    if "sslrootcert" in query:
        creds = replace(creds, sslrootcert=query["sslrootcert"])
    return creds


def _from_secret(secret_id: str, raw: str, settings: Settings) -> Credentials:
    source = f"secret {secret_id}"
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise HookError(
            ErrorKind.SECRET,
            f"The {source} is not a JSON object; it must hold at least "
            '{"username": ..., "password": ...} (the RDS/CDK secret format).',
        )
    overrides = {"host": settings.db_host, "port": settings.db_port, "dbname": settings.db_name}
    merged = {**data, **{k: v for k, v in overrides.items() if v}}
    # the RDS rotation templates' default when dbname is absent
    merged.setdefault("dbname", "postgres")
    return _from_fields(merged, settings, source=source, kind=ErrorKind.SECRET)


def _from_fields(
    data: Mapping[str, Any],
    settings: Settings,
    *,
    source: str,
    kind: ErrorKind = ErrorKind.CONFIGURATION,
) -> Credentials:
    missing = [k for k in ("host", "username", "password", "dbname") if not data.get(k)]
    if missing:
        hint = (
            " (set DB_HOST/DB_PORT/DB_NAME for an RDS-managed secret)"
            if source.startswith("secret")
            else ""
        )
        raise HookError(kind, f"The {source} lacks {', '.join(missing)}{hint}.")
    try:
        port = int(data.get("port") or 5432)
    except (TypeError, ValueError):
        raise HookError(kind, f"The {source} has a port that is not a number.") from None
    return Credentials(
        host=str(data["host"]),
        port=port,
        database=str(data["dbname"]),
        username=str(data["username"]),
        password=str(data["password"]),
        sslmode=settings.sslmode,
        sslrootcert=settings.sslrootcert,
        source=source,
    )

"""The database secret, read one of two ways, both cached per execution environment:

- `powertools_secret_reader`: Powertools Parameters over boto3, with short botocore timeouts so a missing VPC
  endpoint fails fast instead of hanging (the default, `DB_SECRET_SOURCE=sdk`);
- `extension_secret_reader`: the AWS Parameters and Secrets Lambda Extension, a layer that serves
  GetSecretValue on localhost and caches it (`DB_SECRET_SOURCE=extension`). No boto3 import: importing boto3
  is most of what a cold start has left once the fast path answers "already at head". A forced re-read
  (after the database refused the password: the secret may have been rotated) must not come from the
  extension's cache, so it goes through the SDK reader, and so does every later read in the environment.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Callable, Mapping
from urllib.parse import quote

from lambda_fn.aws.config import bounded_config
from lambda_fn.contract import ErrorKind
from lambda_fn.credentials import SecretReader
from lambda_fn.errors import HookError
from lambda_fn.settings import parse_port

EXTENSION_HOST = "localhost"
EXTENSION_PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
EXTENSION_DEFAULT_PORT = 2773
EXTENSION_AUTH_HEADER = "X-Aws-Parameters-Secrets-Token"
# seconds for the connection and for each read: the extension is local, but a cache miss makes it call
# Secrets Manager itself (within its own SECRETS_MANAGER_TIMEOUT_MILLIS)
EXTENSION_TIMEOUT = 5.0
# Powertools' in-process cache: the same variable and default, so both sources cache alike
MAX_AGE_VARIABLE = "POWERTOOLS_PARAMETERS_MAX_AGE"
DEFAULT_MAX_AGE = 5.0
_USE_SDK = "set DB_SECRET_SOURCE=sdk to read it with boto3 instead"


def powertools_secret_reader() -> SecretReader:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # AWS path only

    provider = SecretsProvider(boto_config=bounded_config())

    def read(secret_id: str, force: bool) -> str:
        try:
            value = provider.get(secret_id, force_fetch=force)
        except Exception as exc:  # noqa: BLE001 - GetParameterError wraps every botocore failure
            raise HookError(
                ErrorKind.SECRET,
                f"Could not read the {secret_id} secret: {_aws_reason(exc)}. "
                "Check the secret exists, the function's role may read it, and the VPC reaches "
                "Secrets Manager (NAT or an interface endpoint).",
            ) from None
        if not isinstance(value, str):
            raise HookError(
                ErrorKind.SECRET, f"The secret {secret_id} holds binary data, not JSON text."
            )
        return value

    return read


def extension_secret_reader(
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = EXTENSION_TIMEOUT,
    sdk: Callable[[], SecretReader] = powertools_secret_reader,
) -> SecretReader:
    """A reader that asks the extension on localhost; `sdk` makes the reader for forced re-reads (created on
    the first one: boto3 is imported only then)."""
    env = os.environ if env is None else env
    cache: dict[str, tuple[str, float]] = {}
    fallback: list[SecretReader] = []  # the SDK reader, once a forced re-read needed it

    def read(secret_id: str, force: bool) -> str:
        if force or fallback:
            if not fallback:
                fallback.append(_sdk_reader(sdk, secret_id))
            return fallback[0](secret_id, force)
        now = time.monotonic()
        if (hit := cache.get(secret_id)) is not None and hit[1] > now:
            return hit[0]
        value = _from_extension(secret_id, env, timeout)
        cache[secret_id] = (value, now + _max_age(env))
        return value

    return read


def _sdk_reader(sdk: Callable[[], SecretReader], secret_id: str) -> SecretReader:
    try:
        return sdk()
    except Exception as exc:  # noqa: BLE001 - e.g. no region configured
        raise HookError(
            ErrorKind.SECRET,
            f"Could not create the Secrets Manager client to re-read the "
            f"{secret_id} secret after the database refused its password ({type(exc).__name__}: "
            f"{str(exc)[:300]}); check AWS_REGION.",
        ) from None


def _from_extension(secret_id: str, env: Mapping[str, str], timeout: float) -> str:
    port = _port(env)
    token = env.get("AWS_SESSION_TOKEN", "")
    where = f"the Parameters and Secrets extension (localhost:{port})"
    if not token:
        raise HookError(
            ErrorKind.SECRET,
            f"Cannot ask {where} for the {secret_id} secret: AWS_SESSION_TOKEN is "
            f"not set (Lambda sets it, and the extension requires it); {_USE_SDK}.",
        )
    conn = http.client.HTTPConnection(EXTENSION_HOST, port, timeout=timeout)
    try:
        conn.request(
            "GET",
            f"/secretsmanager/get?secretId={quote(secret_id, safe='')}",
            headers={EXTENSION_AUTH_HEADER: token},
        )
        response = conn.getresponse()
        status, body = response.status, response.read()
    except TimeoutError:
        raise HookError(
            ErrorKind.SECRET,
            f"No answer from {where} for the {secret_id} secret within "
            f"{timeout:g} s. Check the VPC reaches Secrets Manager (NAT or an interface endpoint), "
            f"or {_USE_SDK}.",
        ) from None
    except ConnectionRefusedError:
        raise HookError(
            ErrorKind.SECRET,
            f"Nothing listens at localhost:{port} for the {secret_id} secret: add the "
            "AWS Parameters and Secrets Lambda Extension layer to the function (the construct's "
            f"secrets_extension=True does), or {_USE_SDK}.",
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise HookError(
            ErrorKind.SECRET,
            f"Could not read the {secret_id} secret from {where}: "
            f"{type(exc).__name__}: {str(exc)[:200]}; {_USE_SDK}.",
        ) from None
    finally:
        conn.close()
    if status != 200:
        # an error body is the extension's or Secrets Manager's message, never the secret
        reason = " ".join(body.decode(errors="replace").split())[:300] or "no message"
        hint = (
            "Check the secret exists and the function's role may read it (secretsmanager:GetSecretValue, "
            "and kms:Decrypt for a customer-managed key)"
            if status < 500
            else "Check the VPC reaches Secrets Manager (NAT or an interface endpoint)"
        )
        raise HookError(
            ErrorKind.SECRET,
            f"Could not read the {secret_id} secret through {where} "
            f"(HTTP {status}: {reason}). {hint}, or {_USE_SDK}.",
        )
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    if isinstance(reply, dict) and isinstance(value := reply.get("SecretString"), str):
        return value
    if isinstance(reply, dict) and "SecretBinary" in reply:
        raise HookError(
            ErrorKind.SECRET, f"The secret {secret_id} holds binary data, not JSON text."
        )
    raise HookError(
        ErrorKind.SECRET,
        f"The answer of {where} for the {secret_id} secret is not a "
        f"GetSecretValue reply with a SecretString; {_USE_SDK}.",
    )


def _port(env: Mapping[str, str]) -> int:
    raw = env.get(EXTENSION_PORT_VARIABLE, "").strip() or str(EXTENSION_DEFAULT_PORT)
    return parse_port(EXTENSION_PORT_VARIABLE, raw)


def _max_age(env: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(env.get(MAX_AGE_VARIABLE, "") or DEFAULT_MAX_AGE))
    except ValueError:
        return DEFAULT_MAX_AGE


def _aws_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return f"{type(cause).__name__}: {cause}"[:300]

"""The database secret, read through Powertools Parameters: cached per execution environment, with short
botocore timeouts so a missing VPC endpoint fails fast instead of hanging."""

from __future__ import annotations

from lambda_fn.aws.config import bounded_config
from lambda_fn.credentials import SecretReader
from lambda_fn.errors import ErrorKind, HookError


def powertools_secret_reader() -> SecretReader:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # AWS path only

    provider = SecretsProvider(boto_config=bounded_config())

    def read(secret_id: str, force: bool) -> str:
        try:
            value = provider.get(secret_id, force_fetch=force)
        except Exception as exc:  # noqa: BLE001 - GetParameterError wraps every botocore failure
            raise HookError(ErrorKind.SECRET, f"Could not read the {secret_id} secret: {_aws_reason(exc)}. "
                            "Check the secret exists, the function's role may read it, and the VPC reaches "
                            "Secrets Manager (NAT or an interface endpoint).") from None
        if not isinstance(value, str):
            raise HookError(ErrorKind.SECRET, f"The secret {secret_id} holds binary data, not JSON text.")
        return value

    return read


def _aws_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return f"{type(cause).__name__}: {cause}"[:300]

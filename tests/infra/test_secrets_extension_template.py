"""The construct's default of reading the secret through the AWS Parameters and Secrets Lambda Extension:
the layer, the extension's variables, and DB_SECRET_SOURCE=extension for the runtime; ``secrets_extension=False``
(the SDK reader) leaves none of it (the example's template is also held to its golden copy)."""

from __future__ import annotations

import json
from typing import Any

from lambda_fn.settings import VARIABLES, Settings
from tests.infra.conftest import HookFactory, hook_function_id, template_of

EXTENSION_LAYER = "AWS-Parameters-and-Secrets-Lambda-Extension"


def function_properties(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"][hook_function_id(template)]["Properties"])


def test_the_sdk_reader_is_the_opt_out(hook_stack: HookFactory) -> None:
    stack, _ = hook_stack(secrets_extension=False)
    template = template_of(stack).to_json()
    function = function_properties(template)
    assert "Layers" not in function
    variables = function["Environment"]["Variables"]
    assert "DB_SECRET_SOURCE" not in variables  # the runtime's default: sdk
    assert not [
        name
        for name in variables
        if name.startswith(("PARAMETERS_SECRETS_", "SECRETS_MANAGER_", "SSM_"))
    ]
    assert EXTENSION_LAYER not in json.dumps(template)


def test_secrets_extension_is_the_default_with_the_layer_and_tells_the_runtime(
    hook_stack: HookFactory,
) -> None:
    stack, _ = hook_stack()
    template = template_of(stack).to_json()
    function = function_properties(template)
    # an environment-agnostic stack: CDK maps the region to the AWS-published layer for the architecture
    ((mapping, region, key),) = [layer["Fn::FindInMap"] for layer in function["Layers"]]
    assert region == {"Ref": "AWS::Region"} and key.endswith("x86x64")
    arns = [by_key[key] for by_key in template["Mappings"][mapping].values()]
    assert arns and all(f":layer:{EXTENSION_LAYER}:" in arn for arn in arns)
    variables = function["Environment"]["Variables"]
    # the extension's own settings as CDK writes them: the runtime reads the port, the timeout is bounded
    assert {
        name: variables[name]
        for name in (
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            "PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED",
            "SECRETS_MANAGER_TIMEOUT_MILLIS",
            "PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL",
        )
    } == {
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773",
        "PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "true",
        "SECRETS_MANAGER_TIMEOUT_MILLIS": "4000",
        "PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL": "warn",
    }
    # the hook's variables read back through Settings: the extension is the secret's source
    hook_names = {var.name for var in VARIABLES}
    assert variables["DB_SECRET_SOURCE"] == "extension"
    assert set(variables["DB_SECRET_ARN"]) == {"Ref"}  # the ARN, never the value
    settings = Settings.from_env(
        {n: v for n, v in variables.items() if n in hook_names and isinstance(v, str)}
    )
    assert settings.secret_source == "extension"
    # the extension calls Secrets Manager as the function: its role still reads the secret
    policies = json.dumps(template_of(stack).find_resources("AWS::IAM::Policy"))
    assert "secretsmanager:GetSecretValue" in policies

"""CDK app entry (``cdk.json``: ``.venv/bin/python -m infra.app``): the example stack, checked by cdk-nag.

Offline by design: no lookups, environment-agnostic unless ``-c account=... -c region=...`` is given.
Unacknowledged AwsSolutions findings make synthesis fail (``cdk.out/validation-report.json`` lists them).
"""

from __future__ import annotations

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.example_stack import ExampleServiceStack, ExampleSettings

STACK_NAME = "MigrationHookExample"
# Feature flags the example relies on, set in code rather than cdk.json so that tests (which build the
# App themselves) and `cdk synth` produce the same template. Server access logs via a bucket policy, not
# the legacy LogDeliveryWrite ACL (which needs ACLs enabled on the log bucket).
FEATURE_FLAGS = {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True}


def build_app(app: App | None = None) -> App:
    app = app or App()
    for flag, value in FEATURE_FLAGS.items():
        if app.node.try_get_context(flag) is None:
            app.node.set_context(flag, value)
    account = app.node.try_get_context("account")
    region = app.node.try_get_context("region")
    ExampleServiceStack(
        app,
        STACK_NAME,
        settings=ExampleSettings.from_context(app),
        env=Environment(account=account, region=region) if account or region else None,
        description="Example service with the Alembic migration hook (CodePipeline and CloudFormation)",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()

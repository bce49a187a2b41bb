"""The parts ``MigrationHook`` (``migration_hook.py``) is composed of, one module per concern.

* ``props``: ``MigrationHookProps`` and the checks on them;
* ``network``: the function's security group with the database ingress, default subnets, VPC endpoints;
* ``iam``: the function's role;
* ``environment``: the function's environment variables (``lambda_fn.settings.Settings.to_env``);
* ``function``: the asset and the Lambda function;
* ``triggers``: the CodePipeline action and the ``Custom::DbMigrations`` resource.

Each part creates its constructs in the hook's own scope with the ids the hook always used, so composing
them changes no logical ID.
"""

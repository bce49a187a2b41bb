"""The test-support kit, a module for each piece (import from here, never from a conftest):

database         real PostgreSQL clusters' fresh databases and the admin reads (fixtures: tests/conftest.py)
engine, projects the engine run in process; small generated Alembic projects
http_server      the one fake HTTP server every local endpoint below is built on
lambda_runtime   the Lambda service played locally: environment, Runtime API, runtime process, Function
bundle_layout    the asset's layout the runtime runs from
events           CodePipeline and CloudFormation events as the services send them
codepipeline_recorder, cbor   the CodePipeline job-result endpoint (JSON 1.1 and RPC v2 CBOR)
response_recorder             the CloudFormation ResponseURL
lambda_endpoint  a local Lambda API (GetFunctionConfiguration, Invoke) for the CLI's `invoke`
moto_secrets     Secrets Manager on moto server, and a database login held in a secret
inprocess        the handler in this process: a fake context, fake AWS credentials and endpoints
secrets_extension             the Parameters and Secrets Lambda Extension's Secrets Manager endpoint
lambda_service   the Lambda Invoke API for several functions (the workflow's tasks), real handlers behind it
moto_sfn         moto's Step Functions interpreter on a synthesized definition, its divergences worked around
codebuild_fake   CodeBuild: a project's buildspec run with bash in a directory laid out like the asset
workflow_stacks, workflow_rig the workflow's CDK app, and one workflow running locally for real on it
published        published projects (optuna, mlflow, jupyterhub) installed into cached virtualenvs
paths            where the repository is
"""

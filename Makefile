# `make demo` and `make test` do all the set-up themselves (tools/bootstrap.sh).
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
PY := .venv/bin/python

.PHONY: setup demo test lint format bench synth pr clean

setup:
	@tools/bootstrap.sh

demo: setup  ## migrate a throwaway local PostgreSQL end to end with the CLI
	@$(PY) -m tools.demo

test: setup lint  ## lint, then every test (unit, real PostgreSQL, Lambda runtime e2e, CDK)
	$(PY) -m pytest -q

lint: setup
	.venv/bin/ruff format --check lambda_fn infra tools tests benchmarks
	.venv/bin/ruff check lambda_fn infra tools tests benchmarks
	.venv/bin/mypy
	.venv/bin/mypy -m infra.app -m infra.example_stack -m infra.measure_asset

format: setup  ## rewrite the code in the one enforced format (make lint checks it)
	.venv/bin/ruff format lambda_fn infra tools tests benchmarks

bench: setup  ## medians against baselines, printed as tables
	$(PY) -m benchmarks

synth: setup  ## the example stack, offline, with the pinned CDK CLI
	npx cdk synth --no-notices --quiet

pr: test bench synth

clean:
	rm -rf .venv node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache

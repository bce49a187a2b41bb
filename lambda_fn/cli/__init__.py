"""`alembic-hook`: the same engine from a laptop, CI or an operator's shell.

- main:          the arguments, one verb per command, and the exit code
- render:        the readable rendering of a result, and the progress lines
- stdout:        stdout kept for the result (anything else a command prints goes to stderr)
- remote:        the deployed function invoked exactly once (`--function`)
- workflow:      one execution of the migration workflow started and followed (`--workflow`)
- rehearse:      `rehearse --on COPY_URL`: the pending revisions measured on a copy, as text, JSON or Markdown
- lint_offline:  `lint [RANGE]`: the safety gate with no database
- build_heads, build_lint: build time (`python -m lambda_fn.cli.build_heads|build_lint ALEMBIC_INI --write`):
                 the heads manifest and the lint manifest written next to env.py for the asset
"""

"""The safety gate: pending revisions linted for changes that break the running service or lock its tables,
judged against the live database, refused unless acknowledged. Before the migration lock, before any DDL.

Imported only when something is pending (an "already at head" run never loads it). The modules:

- policy:     the `[alembic_hook]` section of the project's alembic.ini (classes that refuse, size threshold,
              disabled rules, the PostgreSQL version linted for)
- rules:      each rule's class, one-line fix, and whether the live judgement may lower it
- sql:        the rendered SQL as statements: transaction state, the tables a statement names
- render:     each pending revision's SQL rendered offline (Alembic's `--sql` machinery), one chunk per revision
- squawk:     the `squawk` binary (PyPI squawk-cli) over those chunks, JSON reporter
- checks:     the hook's own checks where squawk cannot see
- store:      lint records keyed by the revision file's sha256: the build-time `alembic_hook_lint.json` next to
              env.py, then this user's cache (engine/cache.py)
- lint_records: a record for every revision asked about, from the store, else rendered and linted here
- judge:      acknowledgments, the range catalogue, the live catalogue estimates, the policy -> findings
- enforce:    what the commands call (`enforce` at upgrade, `annotate` for status and sql, `lint`, and
              `lint_offline` for the CLI's `alembic-hook lint`)
"""

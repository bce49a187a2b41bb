"""`alembic-hook`: the same engine from a laptop, CI or an operator's shell (`main`), the readable
rendering of a result (`render`), the deployed function invoked exactly once (`remote`), and the build-time
heads manifest (`manifest`)."""

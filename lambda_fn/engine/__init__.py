"""The domain: what a command does to the target database, through the project's Alembic scripts.

Knows nothing of Lambda or of who is asking: `execute.execute(request, settings, ...) -> Result`.
"""

"""PostgreSQL at the bottom layer: TLS with libpq's meaning, connections with server-side bounds,
readiness, SQLSTATE -> error kinds, and the migration lock. Everything that knows pg8000 lives here."""

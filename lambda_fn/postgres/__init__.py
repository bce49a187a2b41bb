"""PostgreSQL at the bottom layer: TLS with libpq's meaning (tls), connections with server-side bounds
(connect), the fixed SQLAlchemy dialect and the hook's URL (dialect), readiness, SQLSTATE -> error kinds
(errors), the migration lock (lock), and a watched run's sessions (sessions). Every connection the hook opens
is opened here; the engine runs SQL on them."""

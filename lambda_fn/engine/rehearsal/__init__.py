"""Rehearsal: the pending revisions run on a copy of the target, measured statement by statement, and the
production run gated on the measurement.

    modes.py     what a PostgreSQL lock mode blocks, in words
    measure.py   the measurement's values (per revision, per statement, per lock) and their JSON
    observe.py   the recorder: SQLAlchemy cursor events on the copy's connection, pg_locks after each statement
    policy.py    the `[alembic_hook]` rehearsal keys and the verdict over a measurement
    copy.py      the copy: its settings, and the refusals (the copy is the target; at another revision)
    run.py       the `rehearse` command: the target's pending range applied on the copy through `apply_steps`
    record.py    the rehearsals in the target's ledger, keyed by file checksum and the target's revision
    gate.py      at `upgrade`: a fresh matching measurement over the static guess
"""

"""create agent_executions; backfill conversation_threads.last_message_at (data migration)

Revision ID: 0004_executions
Revises: 0003_intents
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004_executions"
down_revision: str | Sequence[str] | None = "0003_intents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_executions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "thread_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("conversation_threads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("agent_name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="running"),
        sa.Column("input_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="ck_agent_executions_status"),
    )
    op.create_index("ix_agent_executions_thread_id", "agent_executions", ["thread_id"])

    # Data migration: threads get a denormalised last_message_at, filled from the messages they hold.
    op.add_column("conversation_threads", sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE conversation_threads AS t
           SET last_message_at = m.last_at
          FROM (SELECT thread_id, max(created_at) AS last_at FROM conversation_messages GROUP BY thread_id) AS m
         WHERE m.thread_id = t.id
        """
    )


def downgrade() -> None:
    op.drop_column("conversation_threads", "last_message_at")
    op.drop_index("ix_agent_executions_thread_id", table_name="agent_executions")
    op.drop_table("agent_executions")

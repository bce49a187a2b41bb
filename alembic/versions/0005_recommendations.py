"""create optimization_recommendations; index conversation_messages concurrently

Revision ID: 0005_recommendations
Revises: 0004_executions
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005_recommendations"
down_revision: str | Sequence[str] | None = "0004_executions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "optimization_recommendations",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "execution_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("agent_executions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("resource_arn", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("estimated_monthly_savings", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('open', 'accepted', 'dismissed')", name="ck_optimization_recommendations_status"),
    )
    op.create_index("ix_optimization_recommendations_account_service", "optimization_recommendations",
                    ["account_id", "service"])
    # Messages is the big, busy table: build its index without blocking writers. CONCURRENTLY cannot run
    # inside a transaction, hence the autocommit block (it commits the table above first).
    with op.get_context().autocommit_block():
        op.create_index("ix_conversation_messages_thread_created", "conversation_messages",
                        ["thread_id", "created_at"], postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_conversation_messages_thread_created", table_name="conversation_messages",
                      postgresql_concurrently=True, if_exists=True)
    op.drop_index("ix_optimization_recommendations_account_service", table_name="optimization_recommendations")
    op.drop_table("optimization_recommendations")

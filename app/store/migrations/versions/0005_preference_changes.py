"""The audit of customers' preference changes (`preference_changes`): each change made from the
preference centre (`/p/<token>`) or a one-click unsubscribe (`/u/<token>`), what changed, when,
and from which message.

Revision ID: 0005_preference_changes
Revises: 0004_etags_leases
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_preference_changes"
down_revision: str | None = "0004_etags_leases"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "preference_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("brand", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_preference_changes_customer", "preference_changes",
                    ["customer_id", "created_at"])
    op.create_index("ix_preference_changes_created_at", "preference_changes", ["created_at"])
    op.create_index("ix_preference_changes_message_id", "preference_changes", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_preference_changes_message_id", table_name="preference_changes")
    op.drop_index("ix_preference_changes_created_at", table_name="preference_changes")
    op.drop_index("ix_preference_changes_customer", table_name="preference_changes")
    op.drop_table("preference_changes")

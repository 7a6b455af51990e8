"""Short SMS links (`/s/<code>`): the code of a message with an SMS, unique, so a text carries a
dozen characters instead of a signed link of about ninety.

Revision ID: 0006_short_links
Revises: 0005_preference_changes
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_short_links"
down_revision: str | None = "0005_preference_changes"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("short_code", sa.String(length=16), nullable=True))
        batch.create_index("ix_messages_short_code", ["short_code"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_short_code")
        batch.drop_column("short_code")

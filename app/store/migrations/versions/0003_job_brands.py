"""Jobs remember the brands of the API key that posted them (`jobs.brands`, app/jobs/models.py).

Jobs posted before this have none (NULL): what a key bound to no brand posts.

Revision ID: 0003_job_brands
Revises: 0002_api_keys
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_job_brands"
down_revision: str | None = "0002_api_keys"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    # Batch: on SQLite, Alembic copies the table when it must; adding a column it does in place.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("brands", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("brands")

"""The frequency caps' index leads with the offer: `offers_shown` is read per render for the
brand's capped offers only (`customers.offers_shown`), and the old index, on customer, brand
and time, made SQLite walk every offer the customer was shown in the window, uncapped ones
included, to keep the capped few: a customer sent 3,000 messages read 3,000 rows a render (680
against 96 µs). Export and erasure, by customer, use the new index's first column as before.

Revision ID: 0009_offer_cap_index
Revises: 0008_inline_artifacts
Created: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0009_offer_cap_index"
down_revision: str | None = "0008_inline_artifacts"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_index("ix_offers_shown_cap", "offers_shown", ["customer_id", "brand", "offer_id", "shown_at"])
    op.drop_index("ix_offers_shown_customer", table_name="offers_shown")


def downgrade() -> None:
    op.create_index("ix_offers_shown_customer", "offers_shown", ["customer_id", "brand", "shown_at"])
    op.drop_index("ix_offers_shown_cap", table_name="offers_shown")

"""Profiles keep their ETag (`profiles.etag`); idempotency keys in flight carry a lease.

- `profiles.etag`: a conditional write is one `UPDATE … WHERE etag = ?` (app/store/customers.py),
  so of writers racing on one ETag exactly one wins. Existing profiles get theirs computed here,
  the way the service computed them at this revision (a copy, so the revision stays as it was
  whatever the service's code becomes).
- `idempotency_keys.owner`, `lease_until`: the request serving a key renews its lease while it
  renders (app/store/idempotency.py); a retry takes over a key whose lease ran out at once.
  Keys in flight before this have none, and are taken over as before (after the lock timeout).

Revision ID: 0004_etags_leases
Revises: 0003_job_brands
Created: 2026-12-01
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004_etags_leases"
down_revision: str | None = "0003_job_brands"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def etag_of(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("etag", sa.String(length=34), nullable=True))
    profiles = sa.table("profiles", sa.column("customer_id", sa.String), sa.column("data", sa.JSON),
                        sa.column("etag", sa.String))
    connection = op.get_bind()
    for customer_id, data in list(connection.execute(sa.select(profiles.c.customer_id,
                                                                profiles.c.data))):
        data = json.loads(data) if isinstance(data, str) else data
        connection.execute(profiles.update().where(profiles.c.customer_id == customer_id)
                           .values(etag=etag_of(data)))
    with op.batch_alter_table("profiles") as batch:
        batch.alter_column("etag", existing_type=sa.String(length=34), nullable=False)
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("owner")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("etag")

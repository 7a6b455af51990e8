"""An action's detail is a JSON object, for every kind: offer clicks stored before as the bare
offer id (`lavanti`) become `{"offer": "lavanti"}`, as clicks are stored now, so the archive,
`/activity` and the export read one shape.

Revision ID: 0007_note_details
Revises: 0006_short_links
Created: 2026-12-01
"""

from __future__ import annotations

import json
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision: str = "0007_note_details"
down_revision: str | None = "0006_short_links"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

NOTES = sa.table("message_events", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                 sa.column("detail", sa.Text))
CLICKED = "offer_clicked"


def upgrade() -> None:
    _rewrite(lambda detail: None if detail.startswith("{") else json.dumps({"offer": detail}))


def downgrade() -> None:
    _rewrite(lambda detail: json.loads(detail)["offer"] if detail.startswith("{") else None)


def _rewrite(change: Callable[[str], str | None]) -> None:
    """Each offer click's detail as `change` gives it (None: left as it is)."""
    connection = op.get_bind()
    clicks = connection.execute(sa.select(NOTES.c.id, NOTES.c.detail)
                                .where(NOTES.c.kind == CLICKED, NOTES.c.detail.is_not(None)))
    for note_id, detail in list(clicks):
        changed = change(detail)
        if changed is not None:
            connection.execute(sa.update(NOTES).where(NOTES.c.id == note_id).values(detail=changed))

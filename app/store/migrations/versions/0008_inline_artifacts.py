"""A message's small files in their artifact rows: `content` holds the bytes of a file up to
ARTIFACT_INLINE_BYTES, and `path` is null for it (app/store/artifacts.py says why). Rows
written before keep their files and their paths.

Revision ID: 0008_inline_artifacts
Revises: 0007_note_details
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_inline_artifacts"
down_revision: str | None = "0007_note_details"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

ARTIFACTS = sa.table("artifacts", sa.column("path", sa.String), sa.column("content", sa.LargeBinary))


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))
        batch.alter_column("path", existing_type=sa.String(length=512), nullable=True)


def downgrade() -> None:
    # The revision before has nowhere to keep a file's bytes but under ARTIFACT_DIR, which a
    # migration does not know: refuse rather than lose them.
    inline = op.get_bind().execute(
        sa.select(sa.func.count()).select_from(ARTIFACTS).where(ARTIFACTS.c.path.is_(None))).scalar()
    if inline:
        raise RuntimeError(f"{inline} artifacts keep their bytes in the database; the revision "
                           "before 0008_inline_artifacts cannot hold them, so it is not downgraded")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_column("content")
        batch.alter_column("path", existing_type=sa.String(length=512), nullable=False)

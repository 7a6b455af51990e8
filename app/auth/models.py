"""The `api_keys` table: who may call `/v1`, with which scopes, for which brands.

Only a SHA-256 of each key is kept. A key is 256 random bits, so a plain digest is enough:
there is nothing to brute-force that a slow password hash would protect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import Base, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    # The readable start of the key (`tp_live_3f9a2c1b`): shown in lists and logs, looked up by.
    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Who calls with it. Keys of one caller share a name (rotation), and so their
    # idempotency keys.
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    # None: every brand. Otherwise the only brands it renders for and sees.
    brands: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    # A Flask-Limiter limit string ("600/minute"); None: the RATE_LIMIT default.
    rate_limit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

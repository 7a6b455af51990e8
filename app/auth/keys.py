"""API keys: made, checked, listed and revoked. The key itself is shown once, at creation.

A key reads `tp_live_3f9a2c1b_<43 random characters>`: `tp_live_` in production and `tp_test_`
elsewhere, eight hex characters that name the key (its prefix, kept in clear), then the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from app.store.models import utcnow

log = logging.getLogger(__name__)

SCOPES = ("render", "jobs", "messages:read", "profiles:read", "profiles:write", "customers:erase",
          "metrics")
_KEY = re.compile(r"^(tp_(?:live|test)_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
_DURATION = re.compile(r"^(\d+)([dhm])$")
# Writing last_used_at on every call would make every read a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    """The key a request came with, as the rest of the request sees it."""

    prefix: str
    name: str
    scopes: frozenset[str]
    brands: frozenset[str] | None
    rate_limit: str | None
    expires_at: datetime | None = None

    def may_see(self, brand: str | None) -> bool:
        return self.brands is None or brand in self.brands

    def may_see_all(self, brands: list[str] | None) -> bool:
        """Whether it may see an object of all these brands (None: of any brand at all)."""
        if self.brands is None:
            return True
        return brands is not None and self.brands.issuperset(brands)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_expiry(text: str, now: datetime) -> datetime:
    """`90d`, `12h`, `30m`, or an ISO 8601 date or date-time (UTC when it names no zone)."""
    if match := _DURATION.match(text.strip()):
        amount, unit = int(match[1]), match[2]
        return now + timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create(db: Session, name: str, scopes: list[str], brands: list[str] | None = None,
           expires_at: datetime | None = None, rate_limit: str | None = None,
           live: bool = False) -> tuple[ApiKey, str]:
    """A new key: its row (flushed, not committed) and the key itself, which is not kept."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)} (scopes: {', '.join(SCOPES)})")
    while True:
        prefix = f"tp_{'live' if live else 'test'}_{secrets.token_hex(4)}"
        if db.get(ApiKey, prefix) is None:
            break
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(prefix=prefix, name=name, key_hash=digest(key), scopes=sorted(set(scopes)),
                 brands=sorted(set(brands)) if brands else None, expires_at=expires_at,
                 rate_limit=rate_limit)
    db.add(row)
    db.flush()
    return row, key


class Refused(Exception):
    """The key is missing, unknown, revoked or expired; `reason` says which (for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def authenticate(db: Session, key: str, now: datetime) -> Caller:
    """The caller behind `key`, or Refused. The hash comparison takes constant time."""
    match = _KEY.match(key)
    row = db.get(ApiKey, match[1]) if match else None
    # Compare against something even when no row matched, so timing says nothing.
    expected = row.key_hash if row is not None else digest("")
    if not hmac.compare_digest(expected, digest(key)) or row is None:
        raise Refused("unknown key")
    if row.revoked_at is not None:
        raise Refused("revoked key")
    if row.expires_at is not None and _aware(row.expires_at) <= now:
        raise Refused("expired key")
    if row.last_used_at is None or _aware(row.last_used_at) < now - LAST_USED_RESOLUTION:
        _note_use(db, row.prefix, now)
    return Caller(prefix=row.prefix, name=row.name, scopes=frozenset(row.scopes),
                  brands=frozenset(row.brands) if row.brands is not None else None,
                  rate_limit=row.rate_limit,
                  expires_at=_aware(row.expires_at) if row.expires_at is not None else None)


class Recent:
    """Keys this process checked in the last `seconds`, so most calls skip the database.

    A revocation reaches other processes within `seconds` (the process that revokes forgets
    at once); an expiry is exact, checked on every call. Bounded: past `size` keys it starts
    afresh.
    """

    def __init__(self, seconds: float, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self._callers: dict[str, tuple[float, Caller]] = {}

    def get(self, key: str, now: datetime) -> Caller | None:
        found = self._callers.get(digest(key))
        if found is None or found[0] < time.monotonic():
            return None
        caller = found[1]
        if caller.expires_at is not None and caller.expires_at <= now:
            return None
        return caller

    def put(self, key: str, caller: Caller) -> None:
        if self.seconds <= 0:
            return
        if len(self._callers) >= self.size:
            self._callers = {}
        self._callers[digest(key)] = (time.monotonic() + self.seconds, caller)

    def forget(self, prefix: str) -> None:
        self._callers = {hashed: held for hashed, held in self._callers.items() if held[1].prefix != prefix}


def _note_use(db: Session, prefix: str, now: datetime) -> None:
    """last_used_at, in a transaction of its own: the request's own stays the request's. A
    failure here is logged, never the caller's problem."""
    try:
        with db.get_bind().connect() as connection:
            connection.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(last_used_at=now))
            connection.commit()
    except SQLAlchemyError:
        log.warning("could not note the use of key %s", prefix, exc_info=True)


def listed(db: Session) -> list[ApiKey]:
    return list(db.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.prefix)))


def revoke(db: Session, prefix: str) -> ApiKey | None:
    row = db.get(ApiKey, prefix)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        db.flush()
    return row


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive date-times; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

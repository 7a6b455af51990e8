"""Identifiers: time-ordered, random, safe in URLs (`msg_01jd…`), and how many go in one statement."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from typing import TypeVar

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Deletes and lookups by id go in chunks: SQLite allows a limited number of bound values.
CHUNK = 500

T = TypeVar("T")


def new_id(prefix: str) -> str:
    """48 bits of milliseconds then 80 random bits, as 26 base32 characters."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return f"{prefix}_{''.join(reversed(chars))}"


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """`items` in slices of CHUNK, each few enough to bind in one statement."""
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]

"""Tracked offer links, `/c/<token>`: the token signs the message and the offer, nothing else.

The click page looks the offer's URL up in the brand's catalogue, so a link can only ever lead
where the catalogue says (never an open redirect), and a corrected URL applies to old messages.
The token is `<message id>~<offer id>` with a timestamp and a signature (as `/m/<token>`): short,
and made in every render, so no JSON and no compression.
"""

from __future__ import annotations

from app.links import absolute, sign_id, unsign_id
from app.problems import NotFound

PURPOSE = "offer"
SEPARATOR = "~"  # in neither a message id nor an offer id (`Identifier`)


def offer_link(message_id: str, offer_id: str) -> str:
    return absolute(f"/c/{sign_id(PURPOSE, f'{message_id}{SEPARATOR}{offer_id}')}")


def read_offer_token(token: str, max_age: int) -> tuple[str, str]:
    """(message id, offer id); NotFound when tampered with, Gone when expired."""
    message_id, separator, offer_id = unsign_id(PURPOSE, token, max_age).partition(SEPARATOR)
    if not separator:
        raise NotFound("This link is not valid.")
    return message_id, offer_id

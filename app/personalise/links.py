"""Tracked offer links, `/c/<token>`: the token signs the message and the offer, nothing else.

The click page looks the offer's URL up in the brand's catalogue, so a link can only ever lead
where the catalogue says (never an open redirect), and a corrected URL applies to old messages.
The token is the message id and the offer id sealed (opaque, app/links.py), with a timestamp
and a signature (as `/m/<token>`): short, and made in every render, so no JSON and no
compression. Tokens sent before sealing (`<message id>~<offer id>` in clear) still open.
"""

from __future__ import annotations

from app.links import absolute, sign_message, unsign_message
from app.problems import NotFound

PURPOSE = "offer"
SEPARATOR = "~"  # in neither a message id nor an offer id (`Identifier`)


def offer_link(message_id: str, offer_id: str) -> str:
    return absolute(f"/c/{sign_message(PURPOSE, message_id, offer_id)}")


def read_offer_token(token: str, max_age: int) -> tuple[str, str]:
    """(message id, offer id); NotFound when tampered with, Gone when expired."""
    message_id, offer_id = unsign_message(PURPOSE, token, max_age, SEPARATOR)
    if not offer_id:
        raise NotFound("This link is not valid.")
    return message_id, offer_id

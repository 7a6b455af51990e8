"""Offers, products and tracked links the personalisation tests share."""

from __future__ import annotations

import re
from typing import Any

from app.brands.products import Product
from app.i18n import LANGUAGES
from tests.conftest import PUBLIC_BASE_URL

PRODUCTS = {
    "arpeggia": Product("arpeggia", {"en": "Arpeggia"}, refill=True, image=None),
    "lavanti": Product("lavanti", {"en": "Lavanti"}, refill=True, image=None),
    "restritto": Product("restritto", {"en": "Restritto"}, refill=True, image=None),
    "vertuo-next": Product("vertuo-next", {"en": "Vertuo Next"}, refill=False, image=None),
}


def words(text: str) -> dict[str, str]:
    return {language: f"{text} ({language})" for language in LANGUAGES}


def offer(offer_id: str, kind: str = "promotion", **fields: Any) -> dict[str, Any]:
    return {"id": offer_id, "kind": kind, "title": words(offer_id), "text": words(f"About {offer_id}"),
            "url": f"https://shop.example/{offer_id}", **fields}


def click_links(answer: dict[str, Any]) -> dict[str, str]:
    """Each block's tracked link, by the block's title in the email."""
    html = answer["outputs"]["email"]["html"]
    links = re.findall(rf'href="{re.escape(PUBLIC_BASE_URL)}(/c/[^"]+)"[^>]*>\s*Discover (\w+)', html)
    return {name.lower(): path for path, name in links}

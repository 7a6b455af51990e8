"""A brand's products (`products.json`): what its offers sell and complement, named per language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Product pictures are drawn at 2x and shown at this size.
PRODUCT_IMAGE_SIZE = 120


@dataclass(frozen=True)
class Product:
    """A product of the brand's catalogue (`products.json`): its name and picture."""

    sku: str
    name: dict[str, str]
    refill: bool
    image: dict[str, Any] | None

    def name_in(self, language: str) -> str:
        return self.name.get(language) or self.name.get("en") or self.sku

    def view(self, language: str) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name_in(language), "refill": self.refill,
                "image": {**self.image, "alt": self.name_in(language)} if self.image else None}

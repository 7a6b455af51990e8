"""Brands as data: `templates/brands/<id>/brand.json` plus its logo. A new brand is a new folder.

A brand says its colours, logo, sender, default locale and legal footer per language, and
optionally its `booking_url`: the https page where a customer makes a new appointment, which
appointment pages link (a link for the customer to open; the service never fetches it). A
brand.json whose `booking_url` is not an https URL does not load (BrandDataError, naming it).
Loading it (`load_brand`) reads and checks its files and writes nothing; the registry then
stores its pictures once, as content-addressed assets, so every email points at the same URL.

    products.py   its products (`products.json`): names and pictures
    pictures.py   its pictures fitted and named by their content, to store once loaded
    catalogue.py  its offer catalogue (`offers.json`), checked at load, every problem at its line
    located.py    JSON that remembers each value's line, for the catalogue's problems
"""

from __future__ import annotations

import json
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from app.brands.catalogue import EMPTY, Catalogue, display_path, load_catalogue
from app.brands.pictures import LOGO_BOX, Pictures, fit_logo
from app.brands.products import PRODUCT_IMAGE_SIZE, Product
from app.i18n import phone_number
from app.problems import FieldError, InvalidRequest, Problem
from app.store.artifacts import ArtifactStore
from app.visuals.palette import dark_colors, dark_logo


@dataclass(frozen=True)
class Brand:
    id: str
    name: str
    colors: dict[str, str]
    locale: str
    email_from: str
    website: str | None
    address: str | None
    phone: str | None
    legal: dict[str, str]
    # Where a customer books a new appointment (https), or None: then no page offers it.
    booking_url: str | None
    logo: dict[str, Any] | None
    products: dict[str, Product] = field(default_factory=dict)
    # The offer catalogue (`offers.json`, catalogue.py); refused at load if broken.
    offers: Catalogue = EMPTY
    raw: dict[str, Any] = field(default_factory=dict)
    # The dark scheme (app/visuals/palette.py): {colors, logo}, declared in brand.json "dark" or derived.
    dark: dict[str, Any] = field(default_factory=dict)
    # Its pictures (pictures.py), digest -> PNG: the registry stores them when it loads the brand.
    pictures: dict[str, bytes] = field(default_factory=dict)

    def legal_text(self, language: str) -> str:
        return self.legal.get(language) or self.legal.get("en") or ""

    def view(self, language: str, region: str | None = None) -> dict[str, Any]:
        """What templates see of the brand, for a reader of `language` in `region` (the
        territory of the message's locale), whose country's way its phone number is written in."""
        phone = phone_number(self.phone, region) if self.phone else None
        return {
            "id": self.id,
            "name": self.name,
            "colors": self.colors,
            "website": self.website,
            "address": self.address,
            "phone": phone.text if phone else None,
            "phone_href": phone.href if phone else None,
            "booking_url": self.booking_url,
            "legal": self.legal_text(language),
            "logo": self.logo,
            "dark": self.dark,
        }


DEFAULT_COLORS = {
    "primary": "#1f4e79",
    "on_primary": "#ffffff",
    "text": "#1d1d1f",
    "muted": "#5f6368",
    "background": "#f4f5f7",
    "surface": "#ffffff",
    "accent": "#e8f0fe",
}


# A URL longer than this is no booking page anyone typed.
MAX_URL_LENGTH = 2000


class BrandDataError(Problem):
    """A brand.json field that cannot be used: the brand does not load (lint names it too)."""

    status, title, slug = 500, "Brand data is invalid", "brand-data-invalid"

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{display_path(path)}: {field} {message}", [FieldError(field, message)])


def booking_url(raw: dict[str, Any], path: Path) -> str | None:
    """brand.json's `booking_url`, checked: an absolute https URL of one line, or absent."""
    value = raw.get("booking_url")
    if value is None:
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:  # an unclosed [IPv6] host
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname or len(value) > MAX_URL_LENGTH \
            or any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise BrandDataError(path, "booking_url", f"{value!r} is not an https:// URL "
                                                  f"(one line, at most {MAX_URL_LENGTH} characters)")
    return value


# How long a production process trusts a loaded brand before it looks at its files again.
PRODUCTION_RECHECK_SECONDS = 2.0


@dataclass
class _Loaded:
    mtime: float  # the newest of the brand's data files when it was loaded
    brand: Brand
    checked: float  # time.monotonic() of the last look at its files
    path: Path  # its brand.json


class BrandRegistry:
    """The brands of `directory`, each loaded once and again when one of its data files
    changes. `recheck` seconds may pass before a render looks at the files: 0 where
    templates reload too (development: a designer's edit shows at once); in production
    (PRODUCTION_RECHECK_SECONDS) an edited offers.json still shows within seconds, and renders
    in between skip the brand's four file look-ups."""

    def __init__(self, directory: Path, assets: ArtifactStore, public_base_url: str,
                 recheck: float = 0.0) -> None:
        self.directory = directory
        self.assets = assets
        self.public_base_url = public_base_url
        self.recheck = recheck
        self._cache: dict[str, _Loaded] = {}

    def ids(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir() if (p / "brand.json").exists())

    def check(self, brand_id: str) -> Path:
        """The brand's brand.json, without loading it; a 422 naming `brand` if there is none.
        A brand loaded and looked at less than `recheck` seconds ago is taken as there."""
        cached = self._cache.get(brand_id)
        if cached and time.monotonic() - cached.checked < self.recheck:
            return cached.path
        path = self.directory / brand_id / "brand.json"
        if "/" in brand_id or brand_id.startswith(".") or not path.exists():
            known = ", ".join(self.ids())
            raise InvalidRequest.at("brand", f"unknown brand '{brand_id}' (known: {known})")
        return path

    def get(self, brand_id: str) -> Brand:
        cached, now = self._cache.get(brand_id), time.monotonic()
        if cached and now - cached.checked < self.recheck:
            return cached.brand
        path = self.check(brand_id)
        # Any data file of the brand changing (brand, products, offers) reloads it.
        mtime = max(p.stat().st_mtime for p in path.parent.glob("*.json"))
        if cached and cached.mtime == mtime:
            cached.checked = now
            return cached.brand
        brand = load_brand(brand_id, path, self.public_base_url)
        # Stored once the brand has loaded, every check passed: a refused brand stores nothing.
        for picture in brand.pictures.values():
            self.assets.put_asset(picture, "png")
        self._cache[brand_id] = _Loaded(mtime, brand, now, path)
        return brand


def load_brand(brand_id: str, path: Path, public_base_url: str) -> Brand:
    """The brand of `path` (its brand.json), its products and offers checked, with the pictures
    they name in `Brand.pictures`; writes nothing."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    booking = booking_url(raw, path)  # checked before its pictures are made
    pictures = Pictures(public_base_url)
    logo = None
    if raw.get("logo"):
        logo = {
            "url": pictures.add(fit_logo(path.parent / raw["logo"])),
            "width": LOGO_BOX[0] // 2,
            "height": LOGO_BOX[1] // 2,
            "alt": raw["name"],
        }
    colors = {**DEFAULT_COLORS, **raw.get("colors", {})}
    declared = raw.get("dark") or {}
    dark: dict[str, Any] = {"colors": dark_colors(colors, declared.get("colors")), "logo": None}
    if logo:
        picture = (fit_logo(path.parent / declared["logo"]) if declared.get("logo")
                   else dark_logo(fit_logo(path.parent / raw["logo"])))
        dark["logo"] = {**logo, "url": pictures.add(picture)}
    products = _products(path.parent, pictures)
    return Brand(
        dark=dark,
        products=products,
        offers=load_catalogue(path.parent / "offers.json", products, pictures),
        id=brand_id,
        name=raw["name"],
        colors=colors,
        locale=raw.get("locale", "en"),
        email_from=raw["email_from"],
        website=raw.get("website"),
        address=raw.get("address"),
        phone=raw.get("phone"),
        legal=raw.get("legal", {}),
        booking_url=booking,
        logo=logo,
        raw=raw,
        pictures=pictures.found,
    )


def _products(folder: Path, pictures: Pictures) -> dict[str, Product]:
    path = folder / "products.json"
    if not path.exists():
        return {}
    products = {}
    for item in json.loads(path.read_text(encoding="utf-8"))["products"]:
        image = None
        if item.get("image"):
            image = {"url": pictures.add((folder / item["image"]).read_bytes()),
                     "width": PRODUCT_IMAGE_SIZE, "height": PRODUCT_IMAGE_SIZE}
        products[item["sku"]] = Product(sku=item["sku"], name=item["name"],
                                        refill=bool(item.get("refill")), image=image)
    return products


def init_app(app: Flask) -> None:
    store: ArtifactStore = app.extensions["touchpoint.artifacts"]
    app.extensions["touchpoint.brands"] = BrandRegistry(
        Path(app.config["BRANDS_DIR"]), store, app.config["PUBLIC_BASE_URL"],
        recheck=0.0 if app.config["TEMPLATE_AUTO_RELOAD"] else PRODUCTION_RECHECK_SECONDS,
    )

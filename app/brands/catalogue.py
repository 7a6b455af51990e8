"""The offer catalogue of a brand: `templates/brands/<brand>/offers.json`, data the business edits.

Loaded with the brand (and again whenever a file of the brand changes). Everything a designer
can get wrong is checked here, once, and reported together, each problem with its file and
line: `templates/brands/demo-coffee/offers.json:12: offers[2].complements[1]: unknown product
'lavanto' (products: arpeggia, lavanti, ...)`. A broken catalogue is refused: the brand does not
load, and every render for it answers that problem, so nobody sends half a catalogue.

The file:

    {
      "topics": ["capsules", "celebrations"],        # every topic an offer may carry
      "topic_texts": {"capsules": {"en": "New capsules and refills", ...}},  # preference centre
      "max_blocks": {"default": 2, "appointment": 1}, # at most N blocks per message type
      "recent_days": 365,                             # purchases this recent count as recent
      "offers": [{
        "id": "lavanti", "kind": "promotion",         # promotion | service | content
        "product": "lavanti",                         # the sku it sells (products.json), if any
        "title": {"en": ..., "nl": ..., "fr": ..., "de": ...},
        "text": {...}, "cta": {...},                  # cta optional: "Find out more"
        "image": "offers/x.png",                      # optional; default the product's picture
        "price": {"amount": "4.50", "currency": "EUR"},
        "url": "https://coffee.example/lavanti",      # where the tracked link leads
        "complements": ["arpeggia"],                  # a candidate for recent buyers of these
        "interests": ["intense_coffee"],              # ... for customers with these interests
        "audience": [{"life_event": "expecting_child", "within_days": 300}],
        "default": false,                             # ... for everyone (a brand default)
        "refill": false,                              # true: shown to owners of the product
        "topics": ["capsules"], "survey": false,
        "frequency_cap": {"max": 2, "days": 30},
        "priority": 0                                 # -100..100, added to the score
      }]
    }

Audience conditions can only name facts a customer gave us (a life event, with the window in
which it is current). There is no condition on gender, age or life stage guessed from anything:
the profile has no such fact, and a catalogue that asks for one is refused.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.brands import located
from app.brands.pictures import Pictures, fit_square
from app.brands.products import Product
from app.config import ROOT
from app.i18n import LANGUAGES
from app.problems import FieldError, Problem
from app.schemas import MESSAGE_TYPES
from app.schemas.common import Currency, HttpsUrl, Identifier, NonNegativeAmount

KINDS = ("promotion", "service", "content")
# The life events a condition may name. A typo would silently match nobody, so it is refused.
LIFE_EVENTS = (
    "birthday", "expecting_child", "new_child", "moved_house", "married", "retired", "new_job",
    "graduated", "bereavement",
)
# Condition kinds: each names a fact the customer gave. Add one here and in facts.py.
CONDITIONS = ("life_event",)
DEFAULT_MAX_BLOCKS = 2
# Offer pictures are drawn at 2x into a square and shown at this size (as product pictures).
IMAGE_SIZE = 120


class CatalogueError(Problem):
    """A brand's catalogue that cannot be used; `problems` holds (file, line, message) each."""

    status, title, slug = 500, "Brand data is invalid", "brand-data-invalid"

    def __init__(self, problems: list[tuple[str, int, str]]) -> None:
        self.problems = problems
        lines = [f"{file}:{line}: {message}" for file, line, message in problems]
        super().__init__("\n".join(lines), [FieldError(f"{file}:{line}", message)
                                            for file, line, message in problems])


@dataclass(frozen=True, slots=True)
class Condition:
    life_event: str
    within_days: int


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    max: int
    days: int


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    index: int
    kind: str
    product: str | None
    title: Mapping[str, str]
    text: Mapping[str, str]
    cta: Mapping[str, str] | None
    image: Mapping[str, Any] | None  # {url, width, height}; alt is the title
    price: tuple[Decimal, str] | None
    url: str
    complements: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    audience: tuple[Condition, ...] = ()
    default: bool = False
    refill: bool = False
    topics: tuple[str, ...] = ()
    survey: bool = False
    cap: FrequencyCap | None = None
    priority: int = 0


class Catalogue:
    """The offers of one brand, indexed for the engine by what makes each a candidate."""

    def __init__(self, offers: tuple[Offer, ...] = (), max_blocks: Mapping[str, int] | None = None,
                 recent_days: int = 365, topics: frozenset[str] = frozenset(),
                 source: str | None = None, topic_list: tuple[str, ...] = (),
                 topic_texts: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.offers = offers
        self.max_blocks = dict(max_blocks or {})
        self.recent_days = recent_days
        self.topics = topics
        # The topics in the file's order, and each one's line for the preference centre
        # ({topic: {language: text}}; a topic without one shows its id).
        self.topic_list = topic_list or tuple(sorted(topics))
        self.topic_texts = dict(topic_texts or {})
        self.source = source
        self.by_id = {offer.id: offer for offer in offers}
        # The indexes hold positions in `offers`: what makes each offer a candidate.
        self.by_complement: dict[str, list[int]] = {}
        self.by_interest: dict[str, list[int]] = {}
        self.by_life_event: dict[str, list[int]] = {}
        for position, offer in enumerate(offers):
            for sku in offer.complements:
                self.by_complement.setdefault(sku, []).append(position)
            for interest in offer.interests:
                self.by_interest.setdefault(interest, []).append(position)
            for condition in offer.audience:
                self.by_life_event.setdefault(condition.life_event, []).append(position)
        self.defaults = [position for position, offer in enumerate(offers) if offer.default]
        self.priorities = tuple(offer.priority for offer in offers)
        # Per sku, its offers with the reason they are candidates, ready to merge in one step.
        self.complement_reasons = {sku: dict.fromkeys(positions, f"complements:{sku}")
                                   for sku, positions in self.by_complement.items()}
        # Each capped offer's window in days: what the load stage reads of the customer's
        # archived messages. An offer without a cap needs no history, however often shown.
        self.cap_windows = {offer.id: offer.cap.days for offer in offers if offer.cap}

    def blocks_for(self, message_type: str) -> int:
        return self.max_blocks.get(message_type, self.max_blocks.get("default", DEFAULT_MAX_BLOCKS))


EMPTY = Catalogue()


# --------------------------------------------------------------------------- the file's shape


class _Data(BaseModel):
    # Strict: "true" is not true and "5" is not 5 in a file people edit by hand.
    model_config = ConfigDict(extra="forbid", strict=True)


Words = Annotated[str, StringConstraints(min_length=1, max_length=400)]


class _Price(_Data):
    amount: NonNegativeAmount
    currency: Currency


class _Cap(_Data):
    max: int = Field(ge=1, le=1000)
    days: int = Field(ge=1, le=3650)


class _Offer(_Data):
    id: Identifier
    kind: Literal["promotion", "service", "content"]
    product: Identifier | None = None
    title: dict[str, Words]
    text: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=2000)]]
    cta: dict[str, Words] | None = None
    image: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    price: _Price | None = None
    url: HttpsUrl
    complements: list[Identifier] = Field(default_factory=list, max_length=500)
    interests: list[Identifier] = Field(default_factory=list, max_length=100)
    audience: list[dict[str, Any]] = Field(default_factory=list, max_length=10)
    default: bool = False
    refill: bool = False
    topics: list[Identifier] = Field(default_factory=list, max_length=20)
    survey: bool = False
    frequency_cap: _Cap | None = None
    priority: int = Field(default=0, ge=-100, le=100)


class _File(_Data):
    topics: list[Identifier] = Field(default_factory=list, max_length=200)
    # One line per topic and language, shown beside its switch in the preference centre.
    topic_texts: dict[Identifier, dict[str, Words]] = Field(default_factory=dict)
    max_blocks: dict[str, Annotated[int, Field(ge=0, le=10)]] = Field(default_factory=dict)
    recent_days: int = Field(default=365, ge=1, le=3650)
    offers: list[dict[str, Any]] = Field(default_factory=list, max_length=5000)


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_problems(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    found = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a known field"
        elif error["type"] == "missing":
            message = "is required"
        found.append((tuple(error["loc"]), message))
    return found


# --------------------------------------------------------------------------- loading


class _Checker:
    """Collects every problem of one file, each at its line."""

    def __init__(self, file: str, document: Any) -> None:
        self.file = file
        self.document = document
        self.problems: list[tuple[str, int, str]] = []

    def add(self, path: tuple[str | int, ...], message: str) -> None:
        where = _dotted(path)
        self.problems.append((self.file, located.line_at(self.document, path),
                              f"{where}: {message}" if where else message))


def display_path(path: Path) -> str:
    """The file as a designer names it: relative to the project when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_catalogue(path: Path, products: Mapping[str, Product],
                   pictures: Pictures | None = None) -> Catalogue:
    """The catalogue in `path` (none there: an empty one), or CatalogueError naming every problem.
    Offer pictures join `pictures` (without it, offers show none); nothing is written."""
    if not path.exists():
        return EMPTY
    file = display_path(path)
    try:
        document = located.load(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno})"
        raise CatalogueError([(file, exc.lineno, message)]) from None
    except located.DuplicateKey as exc:
        raise CatalogueError([(file, exc.line, str(exc))]) from None
    except UnicodeDecodeError as exc:
        raise CatalogueError([(file, 1, f"not UTF-8 text: {exc.reason}")]) from None

    check = _Checker(file, document)
    if not isinstance(document, dict):
        check.add((), "must be a JSON object with an 'offers' list")
        raise CatalogueError(check.problems)
    try:
        top = _File.model_validate(document)
    except ValidationError as exc:
        for loc, message in _pydantic_problems(exc):
            check.add(loc, message)
        raise CatalogueError(check.problems) from None
    for topic, texts in top.topic_texts.items():
        if topic not in top.topics:
            check.add(("topic_texts", topic), f"'{topic}' is not one of the catalogue's \"topics\"")
        missing = [language for language in LANGUAGES if language not in texts]
        if missing:
            check.add(("topic_texts", topic), f"no text in {', '.join(missing)}")
    for key in top.max_blocks:
        if key != "default" and key not in MESSAGE_TYPES:
            check.add(("max_blocks", key),
                      f"is not a message type (types: default, {', '.join(MESSAGE_TYPES)})")

    offers: list[Offer] = []
    seen: set[str] = set()
    for index, raw in enumerate(top.offers):
        offer = _offer(check, index, raw, set(top.topics), products, path.parent, pictures)
        if offer is None:
            continue
        if offer.id in seen:
            check.add(("offers", index, "id"), f"'{offer.id}' is the id of an earlier offer too")
        seen.add(offer.id)
        offers.append(offer)
    if check.problems:
        raise CatalogueError(check.problems)
    return Catalogue(tuple(offers), top.max_blocks, top.recent_days, frozenset(top.topics), file,
                     topic_list=tuple(top.topics), topic_texts=top.topic_texts)


def _offer(check: _Checker, index: int, raw: Any, topics: set[str], products: Mapping[str, Product],
           folder: Path, pictures: Pictures | None) -> Offer | None:
    at: tuple[str | int, ...] = ("offers", index)
    before = len(check.problems)
    if not isinstance(raw, dict):
        check.add(at, "must be an object")
        return None
    try:
        data = _Offer.model_validate(raw)
    except ValidationError as exc:
        for loc, message in _pydantic_problems(exc):
            check.add(at + loc, message)
        return None

    known = ", ".join(sorted(products)) or "none: add products.json"
    for name in ("title", "text", "cta"):
        texts = getattr(data, name)
        if texts is None:
            continue
        missing = [language for language in LANGUAGES if language not in texts]
        extra = [language for language in texts if language not in LANGUAGES]
        if missing:
            check.add((*at, name), f"has no text in {', '.join(missing)} (every offer speaks "
                                   f"{', '.join(LANGUAGES)})")
        for language in extra:
            check.add((*at, name, language), f"'{language}' is not a language of the service")
    if data.product is not None and data.product not in products:
        check.add((*at, "product"), f"unknown product '{data.product}' (products: {known})")
    for position, sku in enumerate(data.complements):
        if sku not in products:
            check.add((*at, "complements", position), f"unknown product '{sku}' (products: {known})")
    if data.refill:
        product = products.get(data.product or "")
        if product is None or not product.refill:
            check.add((*at, "refill"), "only an offer of a refill product (products.json "
                                       "\"refill\": true) may be shown to its owners")
    for position, topic in enumerate(data.topics):
        if topic not in topics:
            check.add((*at, "topics", position),
                      f"unknown topic '{topic}' (declare it in the catalogue's \"topics\": "
                      f"{', '.join(sorted(topics)) or 'none yet'})")
    audience = tuple(
        condition for position, raw_condition in enumerate(data.audience)
        if (condition := _condition(check, (*at, "audience", position), raw_condition))
    )
    if not (data.complements or data.interests or data.audience or data.default):
        check.add(at, f"offer '{data.id}' can never be chosen: give it complements, interests, "
                      "an audience or \"default\": true")
    image = _image(check, at, data, raw, products, folder, pictures)
    if len(check.problems) > before:
        return None
    return Offer(
        id=data.id, index=index, kind=data.kind, product=data.product, title=data.title,
        text=data.text, cta=data.cta, image=image,
        price=(data.price.amount, data.price.currency) if data.price else None, url=data.url,
        complements=tuple(data.complements), interests=tuple(data.interests), audience=audience,
        default=data.default, refill=data.refill, topics=tuple(data.topics), survey=data.survey,
        cap=FrequencyCap(data.frequency_cap.max, data.frequency_cap.days) if data.frequency_cap else None,
        priority=data.priority,
    )


def _condition(check: _Checker, at: tuple[str | int, ...], raw: dict[str, Any]) -> Condition | None:
    kinds = [key for key in raw if key != "within_days"]
    if len(kinds) != 1 or kinds[0] not in CONDITIONS:
        unknown = [key for key in kinds if key not in CONDITIONS]
        what = f"unknown condition '{unknown[0]}'" if unknown else "names no fact"
        check.add((*at, unknown[0]) if unknown else at,
                  f"{what}: a condition names one fact the customer gave us ({', '.join(CONDITIONS)}) "
                  "and the days it stays current; the service never infers gender, age or life stage")
        return None
    event = raw["life_event"]
    if event not in LIFE_EVENTS:
        check.add((*at, "life_event"), f"unknown life event {json.dumps(event)} "
                                       f"(life events: {', '.join(LIFE_EVENTS)})")
        return None
    days = raw.get("within_days")
    if "within_days" not in raw:
        check.add((*at, "life_event"), f"a '{event}' condition needs \"within_days\": a life event is only "
                      "current for a while")
        return None
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        check.add((*at, "within_days"), "must be a whole number of days from 1 to 3650")
        return None
    return Condition(event, days)


def _image(check: _Checker, at: tuple[str | int, ...], data: _Offer, raw: dict[str, Any],
           products: Mapping[str, Product], folder: Path,
           pictures: Pictures | None) -> Mapping[str, Any] | None:
    if "image" not in raw:
        # No picture named: the product's own, when it has one.
        product = products.get(data.product or "")
        return dict(product.image) if product and product.image else None
    if data.image is None:
        return None
    source = (folder / data.image).resolve()
    if folder.resolve() not in source.parents:
        check.add((*at, "image"), "must be a file inside the brand's folder")
        return None
    if not source.is_file():
        check.add((*at, "image"), f"no file '{data.image}' in the brand's folder")
        return None
    try:
        content = source.read_bytes()
        with Image.open(io.BytesIO(content)) as picture:
            picture.verify()
    except (OSError, UnidentifiedImageError) as exc:
        check.add((*at, "image"), f"'{data.image}' is not a picture: {exc}")
        return None
    if pictures is None:
        return None
    return {"url": pictures.add(fit_square(content, IMAGE_SIZE * 2)), "width": IMAGE_SIZE,
            "height": IMAGE_SIZE}


"""Stage 5's value: what the message says, as one view model every channel renders
(app/pipeline/compose), with the pictures stage 6 drew for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.visuals.drawn import Asset


@dataclass(frozen=True)
class Composed:
    type: str
    subject: str
    preheader: str
    context: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    # The action list of the answer document (CONTRACT.md `actions`).
    actions: list[dict[str, Any]] = field(default_factory=list)
    # Pictures drawn for it and not stored yet (stage 6, draw): commit stores them, the PDF
    # lays out with them meanwhile.
    assets: tuple[Asset, ...] = ()

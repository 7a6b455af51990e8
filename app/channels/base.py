"""What every channel shares: its declaration (`Channel`), its output (`ChannelOutput`), and
plain text from the autoescaping templates (`plain`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from app.message.composed import Composed
from app.message.enriched import Enriched
from app.store.artifacts import File


@dataclass
class ChannelOutput:
    output: dict[str, Any]
    files: list[File] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    # Stored with the message, not shown in the answer (the email's envelope).
    envelope: dict[str, Any] | None = None
    # A deferred output: what the job runner draws it from later (JSON).
    deferred: dict[str, Any] | None = None


@dataclass(frozen=True)
class Channel:
    """A channel, as its module declares it (`CHANNEL`)."""

    name: str
    # The message types it serves (app/schemas MESSAGE_TYPES).
    types: tuple[str, ...]
    # Where it is listed: in a message's `channels` and `outputs`, and in the contract's table.
    position: int
    # When it runs among the channels, lowest first: the email runs last, to attach what the
    # others made (`done`).
    order: int
    render: Callable[[Composed, Enriched, dict[str, ChannelOutput]], ChannelOutput]
    # Where the channel can be left to the job runner (the PDF): its `pending` output, with
    # what the runner draws it from later.
    defer: Callable[[Composed, Enriched], ChannelOutput] | None = None
    # Channels rendered with it whenever it is (the SMS has room only for a link to the page).
    needs: tuple[str, ...] = ()
    # The templates it renders from, in templates/<type>/ (`flask lint` finds every one).
    templates: tuple[str, ...] = ()


def plain(rendered: str) -> str:
    """Text rendered by the (autoescaping) environment, as the plain text it stands for.

    Every template escapes its values, so none can emit markup into an HTML context by
    mistake; text/plain and SMS are not HTML, so their entities become characters again.
    """
    return unescape(rendered)

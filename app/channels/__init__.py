"""Stage 7, render: each channel turns a composed message into its output and files.

A channel is a module with `NAME` and `render(message, enriched, done) -> ChannelOutput`;
`done` holds what channels before it made (the email attaches the PDF and the invite).
A channel that cannot draw one part records a warning; the message still goes out.
A channel named in `defer` is not drawn now but left to the job runner (app/jobs/deferred.py):
its output says `pending`, and what it will be drawn from is kept with the message.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from html import unescape
from time import perf_counter
from typing import Any, Protocol

from app import metrics
from app.message.composed import Composed
from app.message.enriched import Enriched


@dataclass(frozen=True)
class File:
    name: str
    content_type: str
    data: bytes


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


class Channel(Protocol):
    NAME: str

    def render(
        self, message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]
    ) -> ChannelOutput: ...


def plain(rendered: str) -> str:
    """Text rendered by the (autoescaping) environment, as the plain text it stands for.

    Every template escapes its values, so none can emit markup into an HTML context by
    mistake; text/plain and SMS are not HTML, so their entities become characters again.
    """
    return unescape(rendered)


# The order channels run in: the email goes last, to attach what the others made.
ORDER = ("sms", "web", "pdf", "ics", "email")


def channel(name: str) -> Channel:
    from app.channels import email, ics, pdf, sms, web

    return {"email": email, "web": web, "pdf": pdf, "ics": ics, "sms": sms}[name]  # type: ignore[return-value]


def render_channels(message: Composed, enriched: Enriched,
                    defer: Collection[str] = ()) -> dict[str, ChannelOutput]:
    done: dict[str, ChannelOutput] = {}
    for name in ORDER:
        if name in enriched.channels and name in defer:
            from app.jobs.deferred import defer_channel

            done[name] = defer_channel(name, message, enriched)
        elif name in enriched.channels:
            started = perf_counter()
            done[name] = channel(name).render(message, enriched, done)
            metrics.channel_rendered(message.type, name, perf_counter() - started)
    return done

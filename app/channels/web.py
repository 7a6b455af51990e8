"""Web: the hosted, mobile-first page at `/m/<token>`, the document face of the message."""

from __future__ import annotations

from app.channels.base import Channel, ChannelOutput
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.store.artifacts import File
from app.templating import render as render_template

NAME = "web"


def render_page(message: Composed) -> str:
    return render_template(f"templates/{message.type}/document.html",
                           {**message.context, "channel": "web"})


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    html = render_page(message)
    return ChannelOutput(
        {"url": enriched.links["web"]},
        files=[File("page.html", "text/html; charset=utf-8", html.encode())],
    )


CHANNEL = Channel(NAME, types=("appointment", "invoice", "bill"), position=2, order=20, render=render,
                  templates=("document.html",))

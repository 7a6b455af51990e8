"""Stage 7, render: each channel turns a composed message into its output and files.

A channel is a module that declares `CHANNEL = Channel(name, order, render, defer)`
(base.py): `render(message, enriched, done) -> ChannelOutput`, where `done` holds what
channels before it made (the email attaches the PDF and the invite). A new channel is a new
module, imported below with the others. A channel that cannot draw one part records a
warning; the message still goes out. A channel named in `defer` is not drawn now but left to
the job runner (app/jobs/deferred.py): its output says `pending`, and what it will be drawn
from is kept with the message. Which channels a type of message has is the request's
contract (app/schemas `TYPE_CHANNELS`).
"""

from __future__ import annotations

from collections.abc import Collection
from time import perf_counter

from app import metrics
from app.channels import email, ics, pdf, sms, web
from app.channels.base import Channel, ChannelOutput, plain
from app.message.composed import Composed
from app.message.enriched import Enriched

__all__ = ["CHANNELS", "Channel", "ChannelOutput", "plain", "render_channels"]

# Every channel by name, in the order they run.
CHANNELS: dict[str, Channel] = {
    spec.name: spec for spec in sorted((module.CHANNEL for module in (email, ics, pdf, sms, web)),
                                       key=lambda spec: spec.order)
}


def render_channels(message: Composed, enriched: Enriched,
                    defer: Collection[str] = ()) -> dict[str, ChannelOutput]:
    done: dict[str, ChannelOutput] = {}
    for name, spec in CHANNELS.items():
        if name not in enriched.channels:
            continue
        if name in defer:
            if spec.defer is None:
                raise ValueError(f"the {name} channel cannot be deferred")
            done[name] = spec.defer(message, enriched)
        else:
            started = perf_counter()
            done[name] = spec.render(message, enriched, done)
            metrics.channel_rendered(message.type, name, perf_counter() - started)
    return done

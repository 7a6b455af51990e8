"""Stage 7, render: each channel turns a composed message into its output and files.

A channel is a module of this package that declares `CHANNEL = Channel(...)` (base.py): its
name, the message types it serves, where it is listed and when it runs, its
`render(message, enriched, done) -> ChannelOutput`, where `done` holds what channels before
it made (the email attaches the PDF and the invite), and optionally `defer`, `needs` and the
templates it reads. The registry below finds every module with a top-level `CHANNEL =`, so a
new channel is one new module and nothing else. A channel that cannot draw one part records a
warning; the message still goes out. A channel named in `defer` is not drawn now but left to
the job runner (app/jobs/deferred.py): its output says `pending`, and what it will be drawn
from is kept with the message.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Collection, Iterable
from pathlib import Path
from time import perf_counter

from app import metrics
from app.channels.base import Channel, ChannelOutput, plain
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.problems import FieldError
from app.schemas import MESSAGE_TYPES

__all__ = ["CHANNELS", "Channel", "ChannelOutput", "channel_errors", "channels_of", "listed",
           "plain", "render_channels", "selected"]


# A channel module assigns `CHANNEL` at its top level. Found in the source, so that only channel
# modules are imported here: the package's others load when they are needed (layout.py brings
# WeasyPrint, 0.6 s, with the first PDF).
_DECLARES = re.compile(r"^CHANNEL\s*[:=]", re.M)


def _declared() -> list[Channel]:
    """Every `CHANNEL` declared by a module of this package, each checked against the others."""
    found: list[Channel] = []
    for module in pkgutil.iter_modules(__path__):
        source = Path(__path__[0], f"{module.name}.py")
        if module.ispkg or not _DECLARES.search(source.read_text(encoding="utf-8")):
            continue
        spec = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CHANNEL", None)
        if not isinstance(spec, Channel):
            raise TypeError(f"{source.name}: CHANNEL is not a Channel")
        found.append(spec)
    names = {spec.name for spec in found}
    for spec in found:
        if unknown := set(spec.types) - set(MESSAGE_TYPES):
            raise ValueError(f"channel {spec.name} serves unknown message types {sorted(unknown)}")
        if missing := set(spec.needs) - names:
            raise ValueError(f"channel {spec.name} needs unknown channels {sorted(missing)}")
    for key in ("name", "position", "order"):
        values = [getattr(spec, key) for spec in found]
        if len(set(values)) != len(values):
            raise ValueError(f"two channels declare the same {key}: {sorted(values)}")
    return found


_DECLARED = _declared()
# Every channel by name, in the order they run.
CHANNELS: dict[str, Channel] = {spec.name: spec for spec in sorted(_DECLARED, key=lambda s: s.order)}
# The channels of each message type, in the order they are listed.
_OF_TYPE: dict[str, tuple[str, ...]] = {
    kind: tuple(spec.name for spec in sorted(_DECLARED, key=lambda s: s.position) if kind in spec.types)
    for kind in MESSAGE_TYPES
}


def channels_of(kind: str) -> tuple[str, ...]:
    """The channels a message of type `kind` can have, in the order they are listed."""
    return _OF_TYPE[kind]


def listed(names: Iterable[str]) -> list[str]:
    """`names` in the order channels are listed (email, web, pdf, ics, sms), unknown ones left out."""
    wanted = set(names)
    return [spec.name for spec in sorted(_DECLARED, key=lambda s: s.position) if spec.name in wanted]


def selected(kind: str, asked: Collection[str] | None) -> list[str]:
    """The channels to render for a request of type `kind`: those asked for (or all of the
    type's), with what each needs, in listing order."""
    names = set(asked or channels_of(kind))
    for name in list(names):
        names.update(CHANNELS[name].needs if name in CHANNELS else ())
    return [name for name in channels_of(kind) if name in names]


def channel_errors(kind: str | None, names: object, path: str = "channels") -> list[FieldError]:
    """What is wrong with a list of channel names, each at its index: a name no channel has, a
    channel the message type `kind` has not (None: any channel will do), a name given twice."""
    if not isinstance(names, list):
        return []
    allowed = channels_of(kind) if kind in _OF_TYPE else tuple(listed(CHANNELS))
    errors = []
    for index, name in enumerate(names):
        if not isinstance(name, str) or name in allowed:
            continue
        if name in CHANNELS and kind is not None:
            why = f"'{name}' is not a channel of {kind} (channels: {', '.join(allowed)})"
        else:
            why = f"'{name}' is not a channel (channels: {', '.join(allowed)})"
        errors.append(FieldError(f"{path}[{index}]", why))
    if len(set(map(str, names))) != len(names):
        errors.append(FieldError(path, "names a channel twice"))
    return errors


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

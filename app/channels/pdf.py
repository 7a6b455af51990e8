"""PDF: the document face of the message, for print (A4), laid out by WeasyPrint
(app/channels/layout.py, loaded with the first PDF a process makes).

Invoices and bills are PDF/A-3b files with their Factur-X e-invoice inside (app/einvoice.py).

Bounded: before layout, cheap checks of the request refuse what cannot fit (a word longer
than any real one, more lines than MAX_PDF_PAGES can hold, more text than they can) in
milliseconds; the layout itself runs in a child process (app/channels/sandbox.py) killed
past PDF_TIME_LIMIT seconds or PDF_MEMORY_LIMIT MB, a 422 naming the limit; a layout over
MAX_PDF_PAGES is refused after it (`render_bounded`). A deferred PDF (Prefer: respond-async)
is kept as its source (`defer`) and laid out later by the job runner (`render_deferred`),
through the same checks and limits.
"""


from __future__ import annotations

import base64
import math
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, request

from app.channels.base import Channel, ChannelOutput
from app.channels.sandbox import bounded
from app.einvoice import EInvoiceSkipped, facturx_xml
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.problems import FieldError, InvalidRequest, collect
from app.schemas import RenderRequest
from app.store import artifacts
from app.store.artifacts import File
from app.templating import render as render_template

NAME = "pdf"

def document_source(message: Composed, enriched: Enriched) -> tuple[str, bytes | None, list[str]]:
    """What the PDF is laid out from: the document's HTML and, for invoices and bills, the
    e-invoice (None where it cannot be made; the warnings say why). A deferred PDF (Prefer:
    respond-async) keeps these with its message and is laid out later by the job runner.
    Both paths check the request first (`check_source`), so a hopeless PDF is refused before
    the answer, in milliseconds."""
    check_source(enriched.request, current_app.config["MAX_PDF_PAGES"])
    html = render_template(f"templates/{message.type}/document.html",
                           {**message.context, "channel": "pdf"})
    warnings: list[str] = []
    einvoice = None
    if message.type in ("invoice", "bill"):
        try:
            einvoice = facturx_xml(enriched.request.data, enriched.locale.territory)  # type: ignore[arg-type]
        except EInvoiceSkipped as skipped:
            warnings.append(str(skipped))
    return html, einvoice, warnings


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    html, einvoice, warnings = document_source(message, enriched)
    pending = {asset.drawn.digest: asset.data for asset in (*enriched.assets, *message.assets)}
    data, pages = render_bounded(html, artifacts().root, enriched.public_base_url, einvoice,
                                 enriched.now, current_app.config, client_gone(), pending)
    return ChannelOutput(
        {"url": enriched.links["api_pdf"], "status": "ready", "pages": pages, "bytes": len(data)},
        files=[File("document.pdf", "application/pdf", data)], warnings=warnings,
    )


def defer(message: Composed, enriched: Enriched) -> ChannelOutput:
    """The PDF left to the job runner (Prefer: respond-async): its output says `pending`, and
    `deferred` holds what `render_deferred` lays it out from later (JSON)."""
    html, einvoice, warnings = document_source(message, enriched)
    return ChannelOutput(
        {"url": enriched.links["api_pdf"], "status": "pending"}, warnings=warnings,
        deferred={
            "type": message.type,
            "html": html,
            "einvoice": base64.b64encode(einvoice).decode() if einvoice is not None else None,
            "created": enriched.now.isoformat(),
            "public_base_url": enriched.public_base_url,
        },
    )


def render_deferred(source: dict[str, Any], assets_root: Path, config: Any) -> tuple[bytes, int]:
    """A deferred PDF and its page count, laid out from what `defer` kept, under the same
    limits as a PDF laid out at once (`render_bounded`)."""
    einvoice = base64.b64decode(source["einvoice"]) if source.get("einvoice") else None
    return render_bounded(source["html"], assets_root, source["public_base_url"], einvoice,
                          datetime.fromisoformat(source["created"]), config)


def render_bounded(html: str, assets_root: Path, public_base_url: str, einvoice: bytes | None,
                   created: datetime | None, config: Any,
                   cancelled: Callable[[], bool] | None = None,
                   pending: Mapping[str, bytes] | None = None) -> tuple[bytes, int]:
    """The PDF and its page count, laid out in a sandboxed child under the configured limits
    (PdfTimeLimit, PdfMemoryLimit, RenderCancelled), and no longer than MAX_PDF_PAGES."""
    # WeasyPrint (0.6 s to import) loads with the first PDF, not in every process that loads the channels.
    from app.channels import layout

    data, pages = bounded(
        layout.lay_out, (html, assets_root, public_base_url, einvoice, created, pending),
        seconds=config["PDF_TIME_LIMIT"], megabytes=config["PDF_MEMORY_LIMIT"], cancelled=cancelled,
        warm_up=layout.warm_up,
    )
    limit = config["MAX_PDF_PAGES"]
    if pages > limit:
        raise InvalidRequest.at("data", f"the PDF would have {pages} pages; the limit is {limit}")
    return data, pages


def client_gone() -> Callable[[], bool] | None:
    """Under gunicorn, whether the client of this request has closed its connection (its
    socket reads as ended); None where that cannot be told (tests, jobs, the CLI)."""
    connection = request.environ.get("gunicorn.socket") if has_request_context() else None
    if connection is None:
        return None

    def gone() -> bool:
        try:
            return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False  # nothing to read: still there
        except OSError:
            return True

    return gone


# The cheap checks. Underestimates of what a page holds (measured on invoices in DejaVu Sans
# 9-10 pt on A4, wider than the Liberation Sans they are set in now: about 29 one-row lines a
# page, 45 text rows of 45 characters in a description cell), so a request refused here could
# never have fitted; what passes may still be stopped by the time limit.
WORD_LIMIT = 300  # characters without a space: longer than any word, IBAN or reference
ROW_CHARACTERS = 60
ROWS_PER_PAGE = 60
PAGE_CHARACTERS = 6000
_WORD = re.compile(rf"\S{{{WORD_LIMIT + 1},}}")
_SHOWN_ELSEWHERE = ("http://", "https://", "data:")  # links and pictures: not laid out as text
_REPORTED = 20


def check_source(request: RenderRequest, max_pages: int) -> None:
    """Refuse, before any layout, a PDF that cannot fit MAX_PDF_PAGES, naming the fields."""
    texts = list(_texts(request.model_dump(mode="json")["data"], "data"))
    errors = _long_words(texts)
    errors += _too_many_rows(request, max_pages)
    total = sum(len(text) for _, text in texts)
    if total > max_pages * PAGE_CHARACTERS:
        errors.append(FieldError("data", f"has {total:,} characters of text; a PDF of {max_pages} "
                                         f"pages holds at most {max_pages * PAGE_CHARACTERS:,}"))
    collect(errors)


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if not value.startswith(_SHOWN_ELSEWHERE):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}[{index}]")


def _long_words(texts: list[tuple[str, str]]) -> list[FieldError]:
    found = [path for path, text in texts if _WORD.search(text)]
    errors = [FieldError(path, f"has a word longer than {WORD_LIMIT} characters; put spaces in it")
              for path in found[:_REPORTED]]
    if len(found) > _REPORTED:
        errors.append(FieldError("data", f"{len(found) - _REPORTED} more fields have a word longer "
                                         f"than {WORD_LIMIT} characters"))
    return errors


def _too_many_rows(request: RenderRequest, max_pages: int) -> list[FieldError]:
    """The line table's rows, each description wrapped in its cell, against the pages."""
    name = "lines" if hasattr(request.data, "lines") else "charges"
    lines = getattr(request.data, name, None) or []
    rows = sum(max(1, math.ceil(len(line.description) / ROW_CHARACTERS)) for line in lines)
    pages = math.ceil(rows / ROWS_PER_PAGE)
    if pages <= max_pages:
        return []
    return [FieldError(f"data.{name}", f"would fill at least {pages} pages ({rows:,} rows of "
                                       f"{ROW_CHARACTERS} characters); the PDF's limit is {max_pages}")]


CHANNEL = Channel(NAME, types=("appointment", "invoice", "bill"), position=3, order=30, render=render,
                  defer=defer, templates=("document.html",))

"""GET /preview: the designers' gallery of every fixture, in every channel (development only).

Per fixture: the subject and preheader as an inbox shows them, the email's size against
Gmail's clipping limit, the email at 375 px and 600 px and the web page at 375 px and 1024 px,
each in a light and a dark colour scheme, the PDF, the SMS with its segments, the invite, the
plain text and the personalisation trace, the email's List-Unsubscribe headers, and the
customer's preference centre and unsubscribe pages (before, after, undone). A locale and a
brand picked in the page re-render every fixture with them. The page asks `/preview/state`
every second and reloads when a template, component, brand, translation or fixture file has
changed.

On only when the app runs in debug mode or PREVIEW_ENABLED is true; otherwise every URL
here answers 404. Renders go through `app.workbench.scratch`: nothing is stored, no Message
row is made. Pages are autoescaped (the one sandboxed Jinja environment), sent with a
Content-Security-Policy that fetches nothing from outside (frames load images only from
this service), and frames are sandboxed without scripts.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for

from app.channels.email import GMAIL_CLIP_BYTES
from app.i18n import LANGUAGES
from app.templating import render as render_template
from app.workbench.customer_pages import PAGES
from app.workbench.customer_pages import page_html as customer_page_html
from app.workbench.failures import Failure
from app.workbench.gallery import dark, preview_state
from app.workbench.scratch import (
    Fixture,
    Scratch,
    file_of,
    list_fixtures,
)

bp = Blueprint("preview", __name__, url_prefix="/preview")

# How often the page asks whether a file changed, in milliseconds.
POLL_MS = 1000


@bp.before_request
def _only_in_development() -> None:
    if not (current_app.debug or current_app.config.get("PREVIEW_ENABLED")):
        abort(404)


# Responses: security headers on everything; frames get no scripts at all.

def _frame_policy() -> str:
    images = " ".join(sorted({"'self'", current_app.config["PUBLIC_BASE_URL"]}))
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src {images} data:; "
            "font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def _secured(response: Response, policy: str) -> Response:
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _frame(html: str, status: int = 200) -> Response:
    return _secured(Response(html, status=status, mimetype="text/html"), _frame_policy())


def _failure_frame(failure: Failure) -> Response:
    """A render error where the frame would be: file, line, message and code, never blank."""
    html = render_template("templates/preview/failure.html", {"failure": _failure_view(failure)})
    return _frame(html, status=500)


def _failure_view(failure: Failure) -> dict[str, Any]:
    return {"view": failure.view, "kind": failure.kind, "message": failure.message,
            "where": failure.where, "note": failure.note, "details": failure.details,
            "excerpt": [{"number": n, "text": t, "hit": hit} for n, t, hit in failure.excerpt]}


# Picking fixtures and overrides from the query string.

def _overrides() -> dict[str, str]:
    brands = current_app.extensions["touchpoint.brands"].ids()
    locale = request.args.get("locale", "")
    brand = request.args.get("brand", "")
    return {
        "locale": locale if re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", locale) else "",
        "brand": brand if brand in brands else "",
    }


def _fixtures() -> list[Fixture]:
    return list_fixtures(Path(current_app.config["FIXTURES_DIR"]))


def _fixture(kind: str, name: str) -> Fixture:
    fixture = next((f for f in _fixtures() if f.name == f"{kind}/{name}"), None)
    if fixture is None:
        abort(404)
    return fixture


def _query(overrides: dict[str, str], **extra: str) -> dict[str, str]:
    return {**{k: v for k, v in overrides.items() if v}, **extra}


# The gallery.

def _card(fixture: Fixture, scratch: Scratch, overrides: dict[str, str]) -> dict[str, Any]:
    kind, name = fixture.name.split("/", 1)

    def url(endpoint: str, **extra: str) -> str:
        return url_for(endpoint, kind=kind, name=name, **_query(overrides, **extra))

    failures = {view: _failure_view(f) for view, f in scratch.failures.items()}
    email = scratch.outputs.get("email")
    sms = scratch.outputs.get("sms")
    ics = scratch.outputs.get("ics")
    web = scratch.outputs.get("web")
    channels = scratch.enriched.channels if scratch.enriched else []
    size = email.output["bytes"] if email else 0
    answer = scratch.answer or {}
    return {
        "name": fixture.name,
        "anchor": fixture.name.replace("/", "-"),
        "file": f"fixtures/{fixture.name}.json",
        "reference": (scratch.document or {}).get("reference") or "",
        "alone_url": url("preview.one"),
        "locale": scratch.enriched.locale_tag if scratch.enriched else "",
        "brand": scratch.enriched.brand.name if scratch.enriched else "",
        "channels": channels,
        "fixture_failure": failures.pop("fixture", None),
        "failures": list(failures.values()),
        "email": {
            "subject": email.output["subject"], "preheader": email.output["preheader"],
            "text": email.output["text"], "bytes": size,
            "headers": email.output.get("headers") or {},
            "kb": f"{size / 1024:.1f}", "percent": min(100, round(100 * size / GMAIL_CLIP_BYTES)),
            "clipped": size > GMAIL_CLIP_BYTES,
            "frames": [{"width": width, "scheme": scheme,
                        "url": url("preview.email_html", width=str(width), scheme=scheme)}
                       for width in (375, 600) for scheme in ("light", "dark")],
        } if email else None,
        "web": {"frames": [{"width": width, "scheme": scheme, "url": url("preview.page_html", scheme=scheme)}
                           for width in (375, 1024) for scheme in ("light", "dark")]}
        if web else None,
        "pdf_url": url("preview.document_pdf") if "pdf" in channels else None,
        "pdf_pages_url": url("preview.document_pages") if "pdf" in channels and shutil.which("pdftoppm")
        else None,
        "sms": {**sms.output, "characters": len(sms.output["text"])} if sms else None,
        "invite": (file_of(ics, "invite.ics") or b"").decode() if ics else None,
        "personalisation": json.dumps(answer.get("personalisation", {}), indent=2, ensure_ascii=False),
        "pages": [{"name": page, "url": url("preview.customer_page", page=page)} for page in PAGES]
        if scratch.enriched else [],
        "warnings": answer.get("warnings", []),
    }


def _gallery(fixtures: list[Fixture], single: bool) -> Response:
    state = preview_state()
    digest = state.files_digest()
    overrides = _overrides()
    cards = [_card(f, state.render(f, overrides, digest), overrides) for f in fixtures]
    all_fixtures = _fixtures()
    locales = sorted({*LANGUAGES, *(_locale_of(f) for f in all_fixtures)} - {""})
    nonce = secrets.token_urlsafe(16)
    html = render_template("templates/preview/gallery.html", {
        "cards": cards,
        "single": single,
        "nonce": nonce,
        "state": digest,
        "state_url": url_for("preview.state"),
        "poll_ms": POLL_MS,
        "gallery_url": url_for("preview.gallery"),
        "action": request.path,
        "only": request.args.get("only", ""),
        "locale": overrides["locale"],
        "brand": overrides["brand"],
        "locales": locales,
        "brands": current_app.extensions["touchpoint.brands"].ids(),
        "index": [{"name": f.name, "anchor": f.name.replace("/", "-"),
                   "url": url_for("preview.one", kind=f.type, name=f.name.split("/", 1)[1],
                                  **_query(overrides))} for f in all_fixtures],
        "limit_kb": GMAIL_CLIP_BYTES // 1024,
    })
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
              "img-src 'self' data:; frame-src 'self'; connect-src 'self'; form-action 'self'; "
              "base-uri 'none'; frame-ancestors 'none'")
    return _secured(Response(html, mimetype="text/html"), policy)


def _locale_of(fixture: Fixture) -> str:
    try:
        return str(json.loads(fixture.path.read_text(encoding="utf-8")).get("locale") or "")
    except (OSError, ValueError, AttributeError):
        return ""


@bp.get("")
def gallery() -> Response:
    pattern = request.args.get("only", "")
    fixtures = [f for f in _fixtures() if not pattern or fnmatch.fnmatch(f.name, pattern)]
    return _gallery(fixtures, single=False)


@bp.get("/<kind>/<name>")
def one(kind: str, name: str) -> Response:
    return _gallery([_fixture(kind, name)], single=True)


@bp.get("/state")
def state() -> Response:
    response = jsonify({"state": preview_state().files_digest()})
    response.headers["Cache-Control"] = "no-store"
    return response


# The frames.

def _scratch(kind: str, name: str) -> Scratch:
    state = preview_state()
    return state.render(_fixture(kind, name), _overrides(), state.files_digest())


@bp.get("/<kind>/<name>/email.html")
def email_html(kind: str, name: str) -> Response:
    scratch = _scratch(kind, name)
    failure = scratch.failures.get("fixture") or scratch.failures.get("email")
    if failure is not None:
        return _failure_frame(failure)
    if "email" not in scratch.outputs:
        return _failure_frame(Failure("email", "No email", f"{kind}/{name} asks for no email"))
    html = scratch.outputs["email"].output["html"]
    return _frame(dark(html) if request.args.get("scheme") == "dark" else html)


@bp.get("/<kind>/<name>/page.html")
def page_html(kind: str, name: str) -> Response:
    scratch = _scratch(kind, name)
    failure = scratch.failures.get("fixture") or scratch.failures.get("web")
    if failure is not None:
        return _failure_frame(failure)
    if "web" not in scratch.outputs:
        return _failure_frame(Failure("web", "No web page", f"{kind}/{name} asks for no web page"))
    html = (file_of(scratch.outputs["web"], "page.html") or b"").decode()
    return _frame(dark(html) if request.args.get("scheme") == "dark" else html)


@bp.get("/<kind>/<name>/document.pdf")
def document_pdf(kind: str, name: str) -> Response:
    state = preview_state()
    result = state.pdf(_fixture(kind, name), _overrides(), state.files_digest())
    if isinstance(result, Failure):
        return _failure_frame(result)
    response = Response(result, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{kind}-{name}.pdf"'
    # No Content-Security-Policy: browsers apply it to their PDF viewer, which it would block.
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<kind>/<name>/document-pages.html")
def document_pages(kind: str, name: str) -> Response:
    """Every page of the PDF as a picture: what the PDF looks like in any browser."""
    state = preview_state()
    pages = state.page_images(_fixture(kind, name), _overrides(), state.files_digest())
    if isinstance(pages, Failure):
        return _failure_frame(pages)
    html = render_template("templates/preview/pages.html", {
        "name": f"{kind}/{name}",
        "pages": [{"number": n, "src": "data:image/png;base64," + base64.b64encode(png).decode()}
                  for n, png in enumerate(pages, start=1)],
    })
    return _frame(html)


@bp.get("/<kind>/<name>/pages/<page>.html")
def customer_page(kind: str, name: str, page: str) -> Response:
    """The fixture's customer's preference centre or unsubscribe page (app/workbench/customer_pages.py)."""
    if page not in PAGES:
        abort(404)
    scratch = _scratch(kind, name)
    failure = scratch.failures.get("fixture")
    if failure is not None:
        return _failure_frame(failure)
    html = customer_page_html(scratch, page)
    return _frame(dark(html) if request.args.get("scheme") == "dark" else html)

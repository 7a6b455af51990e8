"""Customer-facing pages behind signed links: `/m/<token>` and its PDF and invite, and `/s/<code>`,
an SMS's short link to the same page.

A tampered token answers a 404 page, an expired one a 410 page that says what to do.
An appointment's page always shows the appointment as it now stands: opened from a message
made before a reschedule or a cancellation, it says so and shows the newest message's page
(its PDF and invite likewise), never a dead end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, current_app, redirect, render_template_string, request
from werkzeug.exceptions import NotFound as HTTPNotFound

from app.appointments.current import current_for
from app.http.messages import send_artifact
from app.http.problems import problem_response
from app.i18n import Formatter, parse_locale
from app.links import message_links, unsign_message
from app.problems import Gone, NotFound
from app.store import archive
from app.templating import render

bp = Blueprint("pages", __name__)

ERROR_PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:24px;color:#1d1d1f;background:#f4f5f7}
main{max-width:560px;margin:0 auto;background:#fff;border-radius:12px;padding:24px}
h1{font-size:22px;margin:0 0 12px}</style></head>
<body><main><h1>{{ title }}</h1><p>{{ text }}</p></main></body></html>"""


def _message_for(token: str):  # type: ignore[no-untyped-def]
    message_id, _ = unsign_message("web", token, current_app.config["WEB_LINK_MAX_AGE"])
    message = archive.get_message(message_id)
    if message is None:
        raise NotFound("This message no longer exists.")
    return message


def _newest(message_id: str, artifact: str) -> str:
    """The message whose `artifact` shows the appointment as it now stands: this one, or the
    newest about the same appointment when it changed since (and that one has the artifact)."""
    current = current_for(message_id)
    if current is None or not current.superseded or current.latest is None:
        return message_id
    newest = current.latest.message_id
    return newest if archive.get_artifact(newest, artifact) is not None else message_id


@bp.get("/m/<token>")
def web_page(token: str) -> Response:
    message = _message_for(token)
    current = current_for(message.id)
    if current is None or not current.superseded:
        return send_artifact(message.id, "page.html")
    # An older message: the newest page, under a notice that says what changed.
    shown = _newest(message.id, "page.html")
    stored = archive.get_artifact(shown, "page.html")
    if stored is None:
        raise NotFound(f"Message {message.id} has no page.")
    page = archive.artifact_bytes(stored).decode()
    notice = render("templates/pages/superseded.html", {
        "lang": (parse_locale(message.locale) or parse_locale("en")).language,  # type: ignore[union-attr]
        "cancelled": current.cancelled,
        "when": current.shown.view["when"],
    })
    page = _after_header(page, notice)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
        "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _after_header(page: str, notice: str) -> str:
    """The notice right under the brand's header of the page's <main> (or atop it)."""
    main = page.find("<main>")
    header_end = page.find("</header>", main)
    at = header_end + len("</header>") if main >= 0 and header_end >= 0 else main + len("<main>")
    return f"{page[:at]}\n{notice}{page[at:]}" if main >= 0 else notice + page


@bp.get("/s/<code>")
def short_link(code: str) -> Response:
    """An SMS's short link: on to the message's hosted page, for as long as its links live."""
    message = archive.message_by_short_code(code)
    if message is None:
        raise NotFound("This link is not valid.")
    created = message.created_at if message.created_at.tzinfo else message.created_at.replace(tzinfo=UTC)
    if datetime.now(UTC) - created > timedelta(seconds=current_app.config["WEB_LINK_MAX_AGE"]):
        raise Gone("This link has expired.")
    return redirect(message_links(message.id)["web"], code=302)


@bp.get("/m/<token>/document.pdf")
def web_pdf(token: str) -> Response:
    message = _message_for(token)
    return send_artifact(_newest(message.id, "document.pdf"), "document.pdf")


@bp.get("/m/<token>/invite.ics")
def web_invite(token: str) -> Response:
    # After a change, the newest invite: same UID, higher SEQUENCE, so a calendar updates.
    message = _message_for(token)
    return send_artifact(_newest(message.id, "invite.ics"), "invite.ics")


def error_page(status: int, language: str = "en") -> Response:
    locale = parse_locale(language) or parse_locale("en")
    fmt = Formatter(locale)  # type: ignore[arg-type]
    if status == 410:
        title = fmt.gettext("This link has expired")
        text = fmt.gettext(
            "For your safety, links in our messages work for a limited time. "
            "Open the most recent message we sent you, or contact us and we will help you."
        )
    else:
        title = fmt.gettext("This link does not work")
        text = fmt.gettext(
            "The link may be incomplete. Open it again from the message we sent you."
        )
    html = render_template_string(ERROR_PAGE, lang=locale.language, title=title, text=text)
    return Response(html, status=status, mimetype="text/html")


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """Customer pages answer HTML, not problem JSON, when a link is bad."""
    def _page_or_problem(problem: NotFound | Gone) -> Response:
        if request.path.startswith(("/m/", "/a/", "/p/", "/u/", "/s/")):
            language = request.accept_languages.best_match(["en", "nl", "fr", "de"]) or "en"
            return error_page(problem.status, language)
        return problem_response(problem)

    def _no_route(_exc: HTTPNotFound) -> Response:
        # `/m/<token>/` or `/m/<token>/anything` is a damaged link too: the page, not JSON.
        return _page_or_problem(NotFound(f"Nothing at {request.path}."))

    app.register_error_handler(NotFound, _page_or_problem)
    app.register_error_handler(Gone, _page_or_problem)
    app.register_error_handler(HTTPNotFound, _no_route)

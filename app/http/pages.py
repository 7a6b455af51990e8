"""Customer-facing pages behind signed links: `/m/<token>` and its PDF and invite.

A tampered token answers a 404 page, an expired one a 410 page that says what to do.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template_string
from werkzeug.exceptions import NotFound as HTTPNotFound

from app.http.messages import send_artifact
from app.i18n import Formatter, parse_locale
from app.links import unsign_id
from app.problems import Gone, NotFound
from app.store import archive

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
    message_id = unsign_id("web", token, current_app.config["WEB_LINK_MAX_AGE"])
    message = archive.get_message(message_id)
    if message is None:
        raise NotFound("This message no longer exists.")
    return message


@bp.get("/m/<token>")
def web_page(token: str) -> Response:
    message = _message_for(token)
    return send_artifact(message.id, "page.html")


@bp.get("/m/<token>/document.pdf")
def web_pdf(token: str) -> Response:
    message = _message_for(token)
    return send_artifact(message.id, "document.pdf")


@bp.get("/m/<token>/invite.ics")
def web_invite(token: str) -> Response:
    message = _message_for(token)
    return send_artifact(message.id, "invite.ics")


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
    from flask import request

    from app.http.problems import problem_response

    def _page_or_problem(problem: NotFound | Gone) -> Response:
        if request.path.startswith(("/m/", "/a/")):
            language = request.accept_languages.best_match(["en", "nl", "fr", "de"]) or "en"
            return error_page(problem.status, language)
        return problem_response(problem)

    def _no_route(_exc: HTTPNotFound) -> Response:
        # `/m/<token>/` or `/m/<token>/anything` is a damaged link too: the page, not JSON.
        return _page_or_problem(NotFound(f"Nothing at {request.path}."))

    app.register_error_handler(NotFound, _page_or_problem)
    app.register_error_handler(Gone, _page_or_problem)
    app.register_error_handler(HTTPNotFound, _no_route)

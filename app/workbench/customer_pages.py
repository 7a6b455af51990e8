"""The preference centre and the unsubscribe pages of a fixture, drawn without storing anything:
for the preview (`/preview/<type>/<name>/<page>.html`) and the snapshots.

The pages are the service's own templates, filled by the service's own view models
(app/preferences/pages.py) from a scratch render: the customer is the fixture's recipient
(their inline fields), the brand and language the fixture's. The forms post nowhere.

    preferences    the preference centre, as the customer first opens it
    unsubscribe    the unsubscribe page before anything was done (GET: it asks)
    unsubscribed   the confirmation after a one-click unsubscribe, with its undo
    undone         the page after the undo: suggestions on again
"""

from __future__ import annotations

from typing import Any

from app.links import message_links
from app.preferences import centre, pages
from app.templating import render as render_template
from app.workbench.scratch import Scratch

PAGES = ("preferences", "unsubscribe", "unsubscribed", "undone")
PREVIEW_FORM = {"action": "#", "csrf": "preview"}


def subject_of(scratch: Scratch) -> centre.Subject:
    enriched = scratch.enriched
    assert enriched is not None
    return centre.Subject(enriched.message_id, None, enriched.brand, enriched.locale_tag,
                          enriched.request.reference, dict(enriched.profile))


def page_html(scratch: Scratch, page: str) -> str:
    """One page of the fixture's customer, as HTML."""
    if page not in PAGES:
        raise ValueError(f"no customer page {page!r} (pages: {', '.join(PAGES)})")
    subject = subject_of(scratch)
    assert scratch.enriched is not None
    profile: dict[str, Any] = dict(subject.inline)
    if page == "unsubscribed":
        profile = centre.set_suggestions(subject.brand.id, False, scratch.enriched.now)(profile)
    state = centre.state_of(profile, subject.brand.id)
    if page == "preferences":
        context = pages.preferences_context(subject, state, PREVIEW_FORM)
        context["known"] = True  # as for a customer with a stored profile
        return render_template("templates/pages/preferences.html", context)
    context = pages.unsubscribe_context(subject, state, PREVIEW_FORM,
                                        preferences_url=message_links(subject.message_id)["preferences"],
                                        done=page == "undone")
    return render_template("templates/pages/unsubscribe.html", context)

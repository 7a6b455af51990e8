"""What the preference centre and the unsubscribe pages show: pure view models for
`templates/pages/preferences.html` and `templates/pages/unsubscribe.html`.

Texts come from the templates (gettext) and the brand's data (topic lines), dates from
Babel, in the language of the message whose link was followed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.i18n import Formatter, locale_tag, parse_locale
from app.links import message_links
from app.preferences.centre import CHANNELS, State, Subject


def base_context(subject: Subject) -> dict[str, Any]:
    locale = parse_locale(subject.locale) or parse_locale("en")
    assert locale is not None
    return {
        "lang": locale.language,
        "locale": locale_tag(locale),
        "channel": "web",
        "brand": subject.brand.view(locale.language),
        "message_url": message_links(subject.message_id)["web"],
        "_fmt": Formatter(locale),
    }


def _day(fmt: Formatter, moment: str | None) -> str | None:
    if not moment:
        return None
    return fmt.date(datetime.fromisoformat(moment.replace("Z", "+00:00")).date())


def preferences_context(subject: Subject, state: State, form: dict[str, str],
                        notice: str | None = None, changed: dict[str, Any] | None = None) -> dict[str, Any]:
    context = base_context(subject)
    fmt = context.pop("_fmt")
    language = context["lang"]
    catalogue = subject.brand.offers
    context.update({
        "page": "preferences",
        "form": form,
        "notice": notice,
        "changed": changed or {},
        "known": subject.customer_id is not None,
        "suggestions": state.suggestions,
        "unsubscribed_on": _day(fmt, state.unsubscribed_on),
        "marketing": state.marketing,
        "topics": [
            {"id": topic, "on": topic not in state.topics_off, "field": f"topic-{topic}",
             "text": (catalogue.topic_texts.get(topic) or {}).get(language)
                     or topic.replace("_", " ").capitalize()}
            for topic in catalogue.topic_list
        ],
        "channels": [{"id": channel, "on": state.channels is None or channel in state.channels}
                     for channel in CHANNELS],
        "has_offers": bool(catalogue.offers),
    })
    return context


def unsubscribe_context(subject: Subject, state: State, form: dict[str, str], *,
                        preferences_url: str, done: bool = False) -> dict[str, Any]:
    context = base_context(subject)
    fmt = context.pop("_fmt")
    context.update({
        "page": "unsubscribe",
        "form": form,
        "unsubscribed": not state.suggestions,
        "unsubscribed_on": _day(fmt, state.unsubscribed_on),
        "done": done,
        "preferences_url": preferences_url,
    })
    return context

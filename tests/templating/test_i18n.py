"""The gettext catalogues: complete in every language, in step with the sources, and loaded the
way the app loads them (compiled in memory from the .po files by app.i18n)."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from app.i18n import Formatter, PhoneNumber, phone_number, translations
from tests.conftest import ROOT, load_fixture

TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
# Every msgid needs a translation in these; en falls back to the English msgid.
TRANSLATED = ("nl", "fr", "de")
# A named placeholder with its conversion, `%(date)s` or `%(num)d`: the code fills them by name,
# so a translation that drops, renames or adds one breaks the message (KeyError) or loses a value.
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
FIX = "run scripts/update-translations"


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def entries(catalog: Catalog) -> list[Message]:
    """The messages, without the header entry (msgid "")."""
    return [message for message in catalog if message.id]


def forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    """msgid or msgstr as a list: one string, or each plural form."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def placeholders(text: str) -> set[str]:
    return {match.group(0) for match in PLACEHOLDER.finditer(text)}


def dummy_values(text: str) -> dict[str, object]:
    """Values for `text % values`: a number for %d-like conversions, a word otherwise."""
    return {
        match.group(1): 1 if match.group(0)[-1] in "diouxXeEfFgGc" else "x"
        for match in PLACEHOLDER.finditer(text)
    }


def msgids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    # A plural message's id is (singular, plural): a changed plural form counts as a change.
    return {message.id if isinstance(message.id, str) else tuple(message.id) for message in entries(catalog)}


def test_template_has_messages() -> None:
    # Guards the other tests: an empty or missing .pot would make them pass vacuously.
    assert POT.is_file(), f"{POT} is missing: {FIX}"
    assert len(entries(load(POT))) > 20


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    catalog = load(po_path(language), language)
    problems = []
    for template_message in entries(load(POT)):
        message = catalog.get(template_message.id)
        if message is None:
            problems.append(f"{template_message.id!r}: not in the .po ({FIX})")
        elif message.fuzzy:
            # gettext ignores fuzzy entries, so the customer would read English.
            problems.append(f"{message.id!r}: fuzzy")
        elif not forms(message.string) or not all(s.strip() for s in forms(message.string)):
            problems.append(f"{message.id!r}: no translation")
    assert not problems, f"{language}: " + "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language: str) -> None:
    problems = []
    for message in entries(load(po_path(language), language)):
        expected = set().union(*(placeholders(msgid) for msgid in forms(message.id)))
        for translated in forms(message.string):
            if not translated:
                continue  # reported by test_every_message_is_translated
            if placeholders(translated) != expected:
                problems.append(f"{message.id!r} -> {translated!r}: placeholders "
                                f"{sorted(placeholders(translated))}, expected {sorted(expected)}")
            elif expected:
                # The app formats with `text % values`: a lone "%" (write "%%") would raise here.
                try:
                    translated % dummy_values(translated)
                except (ValueError, TypeError, KeyError) as exc:
                    problems.append(f"{message.id!r} -> {translated!r}: {exc}")
    assert not problems, f"{language}: " + "\n".join(problems)


def test_english_plurals_have_both_forms() -> None:
    # en keeps empty msgstrs and falls back to the msgid, but a plural entry compiled with empty
    # forms could answer "" on some Babel versions: scripts/update-translations fills them in.
    english = translations("en")
    for message in entries(load(POT)):
        if isinstance(message.id, str):
            continue
        singular, plural = message.id[0], message.id[1]
        assert english.ngettext(singular, plural, 1) == singular, FIX
        assert english.ngettext(singular, plural, 2) == plural, FIX


def _pybabel() -> list[str]:
    """The venv's pybabel, next to the running Python; else Babel's CLI module."""
    sibling = Path(sys.executable).with_name("pybabel")
    return [str(sibling)] if sibling.exists() else [sys.executable, "-m", "babel.messages.frontend"]


def test_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    # The same extraction as scripts/update-translations (babel.cfg, from the repo root); only the
    # msgids are compared, so line numbers, order and dates do not matter.
    fresh = tmp_path / "messages.pot"
    result = subprocess.run(
        [*_pybabel(), "-q", "extract", "--mapping-file=babel.cfg", f"--output-file={fresh}", "."],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stderr}"
    committed, current = msgids(load(POT)), msgids(load(fresh))
    new = sorted(map(str, current - committed))
    gone = sorted(map(str, committed - current))
    assert not new and not gone, (
        f"translations/messages.pot is out of date: {FIX} and translate the new strings.\n"
        f"new in the sources: {new}\nno longer in the sources: {gone}"
    )


def test_catalogue_compiles_in_memory() -> None:
    # app.i18n compiles the .po with Babel at first use; no .mo file is in the repo.
    assert translations("nl").gettext("Hello %(name)s,") == "Beste %(name)s,"
    assert translations("fr").gettext("Page %(page)s of %(pages)s") == "Page %(page)s sur %(pages)s"


def test_formatter_formats_belgian_euros() -> None:
    money = Formatter(Locale.parse("nl_BE")).money(Decimal("1234.56"), "EUR")
    # Babel separates the sign with a no-break space (U+00A0, or U+202F in some CLDR versions)
    # so it never wraps away from the number; a person reads "€ 1.234,56".
    assert money.replace("\u00a0", " ").replace("\u202f", " ") == "€ 1.234,56"


@pytest.mark.parametrize(("given", "region", "text", "href"), [
    ("+3291234567", "BE", "09 123 45 67", "tel:+3291234567"),       # a Belgian reads Belgian
    ("+32 9 123 45 67", "BE", "09 123 45 67", "tel:+3291234567"),   # however it was given
    ("+3291234567", "DE", "+32 9 123 45 67", "tel:+3291234567"),    # abroad: international
    ("+3291234567", None, "+32 9 123 45 67", "tel:+3291234567"),    # a locale with no country
    ("0470 12 34 56", "BE", "0470 12 34 56", "tel:+32470123456"),   # national, read in its country
])
def test_a_phone_number_is_written_one_way_per_readers_country(given: str, region: str | None,
                                                              text: str, href: str) -> None:
    assert phone_number(given, region) == PhoneNumber(text, href)


def test_the_advisor_and_the_brand_write_their_numbers_alike(client: FlaskClient) -> None:
    answer = client.post("/v1/render", json=load_fixture("appointment/confirmation-nl")).json
    html = answer["outputs"]["email"]["html"]
    assert '<a href="tel:+3291234567"' in html and ">09 123 45 67</a>" in html
    assert "+3291234567<" not in html


def test_a_request_with_an_impossible_international_number_is_refused(client: FlaskClient) -> None:
    request = load_fixture("appointment/confirmation-nl")
    request["data"]["advisor"]["phone"] = "+32123"
    response = client.post("/v1/render", json=request)
    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["path"] == "data.advisor.phone" and "not a possible phone number" in error["message"]

"""The templating stage: MJML compiled once, Jinja per request, autoescape everywhere."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import mjml
import pytest
from flask import Flask
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from app.i18n import translations
from app.pipeline import prepare_message
from app.templating import create_environment, environment, render
from app.templating.mjml_loader import MJML_OPTIONS
from tests.conftest import ROOT, fixture_paths

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> & "quotes" \'apostrophes\''


def _jinja_then_mjml(template_type: str, context: dict) -> str:
    """The slow way: Jinja over every MJML file, then one compile per request."""
    env = environment()
    loader = env.loader.mapping["email"]  # type: ignore[union-attr]

    def rendered(path: str) -> str:
        return env.from_string(loader.resolve(path).read_text(encoding="utf-8")).render(context)

    return mjml.mjml2html(
        rendered(f"templates/{template_type}/email.mjml"), include_loader=rendered, **MJML_OPTIONS
    )


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_compiling_before_jinja_equals_compiling_after(app: Flask, path: Path) -> None:
    # The service compiles MJML once and runs only Jinja per request. That is only right if
    # MJML never computed with a value Jinja fills in: both orders must give the same HTML.
    with app.test_request_context():
        message, _ = prepare_message(json.loads(path.read_text(encoding="utf-8")))
        context = {**message.context, "channel": "email"}
        fast = render(f"email/{message.type}/email.mjml", context)
        slow = _jinja_then_mjml(message.type, context)
    assert fast == slow


def _hostile_invoice() -> dict:
    """An invoice request whose free text (a line, the buyer, the recipient) is markup."""
    document = json.loads((ROOT / "fixtures/invoice/capsules-nl.json").read_text())
    document["data"]["lines"][0]["description"] = HOSTILE
    document["data"]["buyer"]["name"] = HOSTILE
    document["recipient"]["name"]["given"] = HOSTILE
    return document


def test_compiling_before_jinja_equals_after_with_hostile_text(app: Flask) -> None:
    with app.test_request_context():
        message, _ = prepare_message(_hostile_invoice())
        context = {**message.context, "channel": "email"}
        fast = render("email/invoice/email.mjml", context)
        assert fast == _jinja_then_mjml("invoice", context)
    assert "<script>" not in fast and "&lt;script&gt;" in fast


@pytest.mark.parametrize("name", [
    "email/invoice/email.mjml", "templates/invoice/email.txt", "templates/invoice/sms.txt",
    "templates/invoice/document.html", "components/line-items/document.html",
])
def test_every_kind_of_template_autoescapes(app: Flask, name: str) -> None:
    # Flask autoescapes only .html and a few others; this environment does it for all. The
    # named template itself renders a message whose free text is markup.
    with app.test_request_context():
        message, _ = prepare_message(_hostile_invoice())
        # The SMS shows none of the request's free text, only its summary: that one is markup.
        context = {**message.context, "channel": "email", "sms": {"summary": HOSTILE}}
        rendered = environment().get_template(name).render(context)
    assert "<script>" not in rendered and "<img src=x" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in rendered


def test_templates_are_sandboxed(app: Flask) -> None:
    # Designers edit templates; the sandbox keeps them away from Python internals.
    with app.app_context(), pytest.raises(SecurityError):
        environment().from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


@pytest.mark.parametrize("expression", [
    "d.name", "d['name']", "d.items", "d.items()|list|length", "d.get('name')", "d.nested.name",
    "d.missing is defined", "d.__class__ is defined", "d.__len__ is defined", "d.keys()|list",
])
def test_a_dicts_keys_read_as_in_jinjas_own_sandbox(app: Flask, expression: str) -> None:
    # The quick path for `dict.key` must answer exactly what Jinja's sandbox answers, a key
    # named like a dict method (here `items`) and an undefined or unsafe name included.
    context = {"d": {"name": "Ada", "items": ["a", "b", "c"], "nested": {"name": "Lovelace"}}}
    source = "{{ " + expression + " }}"
    with app.app_context():
        ours = environment().from_string(source).render(context)
    stock = ImmutableSandboxedEnvironment(autoescape=True).from_string(source).render(context)
    assert ours == stock


@pytest.mark.parametrize("source", [
    "{{ _('Bill number') }}",
    "{{ gettext('Bill number') }}",
    "{{ _('%(name)s & co', name='<b>') }}",
    "{{ _('100%% sure') }}",
    "{% trans name='<i>' %}Hello {{ name }}{% endtrans %}",
    "{% trans count=n %}{{ count }} line{% pluralize %}{{ count }} lines{% endtrans %}",
    "{{ ngettext('%(num)s line', '%(num)s lines', n) }}",
    # A text without variables is kept once made: marked safe where autoescaping, not elsewhere.
    "{{ _('Bill number') ~ '<' }}{% autoescape false %}{{ _('Bill number') ~ '<' }}{% endautoescape %}",
    "{% autoescape false %}{{ _('Bill number') ~ '<' }}{% endautoescape %}{{ _('Bill number') ~ '<' }}",
])
def test_translations_read_as_with_jinjas_own_i18n(app: Flask, source: str) -> None:
    # Our one-call `_`/`gettext`/`ngettext` answer what the i18n extension's newstyle
    # callables answer: translated, marked safe, formatted, their variables escaped.
    context = {"lang": "nl", "n": 3}
    with app.app_context():
        ours = environment().from_string(source).render(context)
    stock = ImmutableSandboxedEnvironment(autoescape=True, extensions=["jinja2.ext.i18n"])
    dutch = translations("nl")
    stock.install_gettext_callables(dutch.gettext, dutch.ngettext, newstyle=True)  # type: ignore[attr-defined]
    assert ours == stock.from_string(source).render(context)
    if "Bill number" in source and "~" not in source:
        assert ours == dutch.gettext("Bill number") != "Bill number"


def test_a_text_without_its_variables_is_still_an_error(app: Flask) -> None:
    with app.app_context(), pytest.raises(KeyError, match="name"):
        environment().from_string("{{ _('%(name)s & co') }}").render({"lang": "nl"})


def test_a_missing_key_is_still_an_error(app: Flask) -> None:
    with app.app_context(), pytest.raises(UndefinedError, match="missing"):
        environment().from_string("{{ d.missing }}").render({"d": {"name": "Ada"}})


def test_mjml_is_compiled_once_and_recompiled_when_a_component_changes(
    app: Flask, tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "components", tmp_path / "components")
    env = create_environment(tmp_path / "templates", tmp_path / "components", auto_reload=True)
    with app.test_request_context():
        message, _ = prepare_message(json.loads((ROOT / "fixtures/invoice/capsules-nl.json").read_text()))
    context = {**message.context, "channel": "email"}
    first = env.get_template("email/invoice/email.mjml")
    assert env.get_template("email/invoice/email.mjml") is first  # cached, not recompiled
    assert "EDITED" not in first.render(context)

    # A designer edits a component the message includes: the next render shows it.
    footer = tmp_path / "components/footer/email.mjml"
    footer.write_text(footer.read_text().replace("{{ legal }}", "EDITED {{ legal }}"))
    stat = footer.stat()
    os.utime(footer, (stat.st_atime, stat.st_mtime + 5))
    second = env.get_template("email/invoice/email.mjml")
    assert second is not first
    assert "EDITED" in second.render(context)


def test_compiled_email_keeps_jinja_out_of_mjml_computed_sizes() -> None:
    # MJML rewrites widths and heights; a Jinja expression in one would be mangled.
    for path in list((ROOT / "components").glob("*/email.mjml")) + list(
        (ROOT / "templates").glob("*/email.mjml")
    ):
        source = path.read_text(encoding="utf-8")
        for attribute in re.findall(r'\b(?:width|height)="([^"]*)"', source):
            assert "{" not in attribute, f"{path}: Jinja in a size MJML computes with: {attribute}"


def test_emails_load_no_web_fonts(app: Flask) -> None:
    # A font link would tell the font host who opened the email.
    with app.test_request_context():
        message, _ = prepare_message(json.loads((ROOT / "fixtures/invoice/capsules-nl.json").read_text()))
        html = render("email/invoice/email.mjml", {**message.context, "channel": "email"})
    assert "fonts.googleapis.com" not in html and "@import" not in html

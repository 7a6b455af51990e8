"""`flask --app app lint`: each check finds what it is for and names the file and line.

The repository itself is linted by `make test` (before pytest); here a copy of the designers'
folders is broken on purpose, one problem of each kind, and lint must name each one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from app import create_app
from app.visuals.contrast import contrast_ratio
from app.workbench import lint as lint_module
from app.workbench import mjml_check
from app.workbench.contrast import painted_pairs
from app.workbench.lint import Finding, Linter, is_allowed, load_allowed
from app.workbench.params import used_paths
from app.workbench.rendered import check_html
from app.workbench.scratch import scratch_app
from tests.conftest import FIXTURES, ROOT

SAMPLE = ("invoice/capsules-nl", "appointment/confirmation-nl", "bill/electricity-nl")


def _line(path: Path, needle: str) -> int:
    return next(n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer has {old!r}: adapt the test"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def design(tmp_path: Path) -> Path:
    root = tmp_path / "design"
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "components", root / "components")
    for name in SAMPLE:
        (root / "fixtures" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / f"{name}.json", root / "fixtures" / f"{name}.json")
    return root


def _lint(root: Path) -> list[str]:
    config = {"TEMPLATES_DIR": str(root / "templates"), "COMPONENTS_DIR": str(root / "components"),
              "BRANDS_DIR": str(root / "templates" / "brands"),
              "TRANSLATIONS_DIR": str(ROOT / "translations"), "FIXTURES_DIR": str(root / "fixtures")}
    with scratch_app(config, create_app) as app:
        return [str(finding) for finding in Linter(app).run()]


def _has(findings: list[str], path: Path, line: int | None, severity: str, text: str) -> bool:
    where = f"{path.as_posix()}:{line}" if line else path.as_posix()
    return any(f.startswith(f"{where}: {severity}: ") and text in f for f in findings)


def test_lint_names_each_problem_by_file_and_line(design: Path) -> None:
    components = design / "components"
    # A component whose parameters do not match what its faces read, with bad MJML.
    badge = components / "badge"
    badge.mkdir()
    (badge / "component.json").write_text(json.dumps({
        "description": "A badge.", "parameters": {"badge.label": {"required": True},
                                                  "badge.unused": {"default": None}}}, indent=2))
    (badge / "email.mjml").write_text(
        '<mj-section>\n'
        '  {% if badge.label %}\n'
        '  <mj-column width="60%">\n'
        '    <mj-image src="{{ badge.icon }}" width="{{ badge.size }}" />\n'
        '    <mj-text colr="red">{{ badge.label }}</mj-text>\n'
        '    <mj-spinner />\n'
        '  </mj-column>\n'
        '  {% endif %}\n'
        '</mj-section>\n')
    (badge / "document.html").write_text('<p>{{ badge.label }}</p>\n')
    # An undefined variable, an image without alt, a plain-http link and an untranslated text.
    card = components / "appointment-card/document.html"
    _edit(card, "{{ appointment.title }}", "{{ appointment.titel }}")
    # An undefined variable only the PDF reaches.
    footer = components / "footer/document.html"
    _edit(footer, "</footer>", '{% if channel == "pdf" %}{{ printed_only }}{% endif %}\n</footer>')
    greeting = components / "greeting/document.html"
    _edit(greeting, "<p>{{ intro }}</p>",
          '<p>{{ intro }}</p>\n<img src="/x.png">\n<a href="http://help.example/faq">{{ _("A sentence '
          'nobody translated") }}</a>')
    # An email over Gmail's limit, and a brand colour below WCAG AA.
    greeting_email = components / "greeting/email.mjml"
    _edit(greeting_email, "{{ intro }}</mj-text>", '{{ intro }}{{ "x" * 110000 }}</mj-text>')
    brand = design / "templates/brands/demo-energy/brand.json"
    _edit(brand, '"muted": "#55645a"', '"muted": "#aaaaaa"')

    findings = _lint(design)
    report = "\n".join(findings)
    badge_email = badge / "email.mjml"
    expected = [
        (badge_email, 2, "error", "{% if badge.label %} between MJML elements: wrap it in <mj-raw>"),
        (badge_email, 4, "error", 'mj-image: Jinja in width="{{ badge.size }}"'),
        (badge_email, 4, "error", "mj-image has no alt text"),
        (badge_email, 4, "error", "mj-image has no height (px)"),
        (badge_email, 4, "error", 'reads "badge.icon", which component.json does not declare'),
        (badge_email, 5, "error", 'mj-text: attribute "colr" is illegal'),
        (badge_email, 6, "error", "mj-spinner: unknown MJML element"),
        (badge_email, None, "warning", "no message template includes it"),
        (badge / "component.json", _line(badge / "component.json", "badge.unused"), "warning",
         'declares "badge.unused", which neither face reads'),
        (card, _line(card, "titel"), "error", "UndefinedError: 'dict object' has no attribute 'titel'"),
        (footer, _line(footer, "printed_only"), "error", "UndefinedError: 'printed_only' is undefined"),
        (greeting, _line(greeting, "<img"), "error", "<img> without alt text"),
        (greeting, _line(greeting, "http://"), "error", "http://help.example/faq is plain http"),
        (greeting, _line(greeting, "http://"), "error",
         'web page: the link "A sentence nobody translated" is "http://help.example/faq", not an '
         "absolute https URL"),
        (greeting, _line(greeting, "nobody translated"), "error",
         '"A sentence nobody translated" is untranslated: nl: not in the catalogue'),
        (design / "fixtures/invoice/capsules-nl.json", None, "error", "Gmail clips messages over 102 KB"),
        (brand, _line(brand, '"muted"'), "error",
         "muted (#aaaaaa) on surface (#ffffff) has a contrast of 2.32:1, below WCAG AA 4.5:1"),
    ]
    for path, line, severity, text in expected:
        assert _has(findings, path, line, severity, text), f"missing {path}:{line}: {text}\n{report}"
    # The undefined variable is named once, with the fixture that hit it; the component
    # declares no `appointment.titel` either.
    undefined = [f for f in findings if "no attribute 'titel'" in f]
    assert len(undefined) == 1, undefined
    assert undefined[0].endswith("(rendering appointment/confirmation-nl)"), undefined
    assert _has(findings, card, _line(card, "titel"), "error",
                'reads "appointment.titel", which component.json does not declare')


def test_lint_exit_status_follows_the_errors(runner: FlaskCliRunner, app: Flask,
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = [Finding("components/x/email.mjml", 3, "error", "mj-x: unknown MJML element"),
             Finding("templates/brands/b/brand.json", None, "warning", "no logo")]
    monkeypatch.setattr(Linter, "run", lambda self, render=True: found)
    monkeypatch.setattr(lint_module, "ALLOW_FILE", tmp_path / "none.txt")
    result = runner.invoke(args=["lint"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "components/x/email.mjml:3: error: mj-x: unknown MJML element",
        "templates/brands/b/brand.json: warning: no logo",
        "lint: 1 error, 1 warning",
    ]
    monkeypatch.setattr(Linter, "run", lambda self, render=True: found[1:])
    assert runner.invoke(args=["lint"]).exit_code == 0


def test_allow_list_lets_known_findings_pass(tmp_path: Path) -> None:
    allow = tmp_path / "lint-allow.txt"
    allow.write_text("# Known, fixed by the lead later\n"
                     "components/x/email.mjml:3: mj-x: unknown  # the x component is being replaced\n")
    allowed = load_allowed(allow)
    assert is_allowed(Finding("components/x/email.mjml", 3, "error", "mj-x: unknown MJML element"), allowed)
    assert not is_allowed(Finding("components/x/email.mjml", 4, "error", "mj-x: unknown MJML element"),
                          allowed)
    assert not is_allowed(Finding("components/y/email.mjml", 3, "error", "mj-x: unknown"), allowed)


def _check(source: str, parent: str | None = "mj-body") -> list[tuple[int | None, str, str]]:
    path = Path("/nowhere/component.mjml")

    def resolve(name: str) -> Path:
        raise FileNotFoundError(name)

    checker = mjml_check._Checker(path, parent, resolve)
    checker.feed(source)
    return [(f.line, f.severity, f.message) for f in checker.finish()]


def test_mjml_rules() -> None:
    assert _check('<mj-section><mj-column><mj-text>{% if a %}x{% endif %}</mj-text></mj-column>'
                  '</mj-section>') == []
    assert _check('<mj-section>\n<mj-column>\n<mj-raw>{% for b in c %}</mj-raw>\n'
                  '<mj-button href="{{ b.url }}" border="2px solid {{ b.colour }}">x</mj-button>\n'
                  '<mj-raw>{% endfor %}</mj-raw>\n</mj-column>\n</mj-section>') == []
    # A block opened in one column and closed in another would cut a table in two.
    found = _check('<mj-section>\n<mj-column><mj-raw>{% if a %}</mj-raw></mj-column>\n'
                   '<mj-column><mj-raw>{% endif %}</mj-raw></mj-column>\n</mj-section>')
    assert (2, "error", "{% if %} is not closed inside the <mj-column> it opens in (line 2)") in found
    assert _check('<mj-section><mj-text>x</mj-text></mj-section>') == [
        (1, "error", "mj-text cannot be a child of mj-section (it goes in mj-column, mj-hero)")]
    assert _check('<mj-section>\n<mj-column>\n<mj-text>x</mj-column>\n</mj-section>') == [
        (3, "error", "<mj-text> is never closed (</mj-column> at line 3 closes its parent)")]
    assert _check('<mj-section><mj-column width="70%"></mj-column><mj-column width="40%"></mj-column>'
                  '</mj-section>') == [(1, "error", "mj-section: its columns are 110% wide together")]
    assert _check('<mj-section><mj-column><mj-image src="a" alt="" width="100" height="20px" />'
                  '</mj-column></mj-section>') == [
        (1, "error", 'mj-image: width="100" needs a unit (px or %)')]
    assert _check('<mj-section><mj-column>\nhello\n</mj-column></mj-section>') == [
        (2, "error", "text 'hello' inside <mj-column>: MJML drops it; put it in an mj-text")]
    assert _check('<mj-section><mj-column><mj-include path="components/nope/email.mjml" />'
                  '</mj-column></mj-section>') == [
        (1, "error", 'mj-include: no file "components/nope/email.mjml"')]



def test_a_message_template_needs_an_mjml_root(tmp_path: Path) -> None:
    path = tmp_path / "email.mjml"
    path.write_text("<mj-body></mj-body>\n")
    findings, _ = mjml_check.check_file(path, None, lambda name: path)
    assert [(f.line, f.message) for f in findings] == [(1, "no <mjml> root element")]


def test_every_message_template_passes_the_mjml_rules(app: Flask) -> None:
    # The MJML part of lint over the repository's own templates (the rest of lint runs in
    # `make test`, before pytest).
    with app.app_context():
        from app.templating import environment

        loader = environment().loader.mapping["email"]  # type: ignore[union-attr]
        problems = [f"{f.path}:{f.line}: {f.message}"
                    for root in sorted((ROOT / "templates").glob("*/email.mjml"))
                    for f in mjml_check.check_tree(root, loader.resolve) if f.severity == "error"]
    assert not problems, "\n".join(problems)


def test_contrast_ratio_is_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#fff", "#fff") == pytest.approx(1.0)
    # WCAG's own examples: #777 on white is just below AA, #767676 just above.
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    with pytest.raises(ValueError):
        contrast_ratio("red", "#fff")


def test_used_paths_leave_out_the_templates_own_names(app: Flask) -> None:
    with app.app_context():
        from app.templating import environment

        env = environment()
        tree = env.parse("{% for month in bill.usage[-6:] %}{{ month.label }}{% endfor %}\n"
                         "{% set n = items | length %}{{ n }} {{ _('x') }} {{ a.b['c'].d }} {{ rows[i].x }}")
        assert used_paths(tree, set(env.globals)) == {
            "bill.usage": 1, "items": 2, "a.b.c.d": 2, "rows": 2, "i": 2}


def test_rendered_output_checks() -> None:
    base = "http://touchpoint.test"
    html = (f'<html><head><link rel="stylesheet" href="https://fonts.example/css"></head><body>'
            f'<img src="{base}/assets/a.png" alt="Logo"><img src="{base}/assets/b.png">'
            f'<img src="https://cdn.example/c.png" alt="">'
            f'<a href="https://ok.example">ok</a><a href="{base}/m/x">own</a><a href="mailto:a@b">m</a>'
            f'<a href="tel:+32">t</a><a href="http://plain.example">Plain</a><a href="">Empty</a>'
            f'<div style="background:url(https://track.example/p.gif)">x</div></body></html>')
    messages = [(i.severity, i.message) for i in check_html(html, "email", base)]
    assert messages == [
        ("error", f"email: <img src={base}/assets/b.png> has no alt text"),
        ("warning", "email: <img src=https://cdn.example/c.png> has an empty alt: right only for a picture "
                    "that says nothing"),
        ("error", 'email: the link "Plain" is "http://plain.example", not an absolute https URL'),
        ("error", 'email: the link "Empty" is empty'),
        ("error", "email: link rel=stylesheet loads https://fonts.example/css from outside this service "
                  "when opened (it tells that host who read it)"),
        ("error", "email: img loads https://cdn.example/c.png from outside this service when opened "
                  "(it tells that host who read it)"),
        ("error", "email: CSS loads https://track.example/p.gif from outside this service when opened "
                  "(it tells that host who read it)"),
    ]


def test_lint_checks_contrast_in_both_schemes(design: Path) -> None:
    # A dark colour a brand declares that does not read on its dark grounds.
    brand = design / "templates/brands/demo-energy/brand.json"
    _edit(brand, '  "legal": {', '  "dark": {"colors": {\n    "primary": "#1c6f3d"\n  }},\n  "legal": {')
    # A rule of the dark scheme that paints text too dark for its background (every brand).
    css = design / "templates/base/document.css"
    _edit(css, ".c-notice--warning { border-left-color: #f0a040; }",
          ".c-notice--warning { border-left-color: #f0a040; color: #5a4a30; background: var(--warning); }")
    # A rule outside any media query, in variables: checked in the light and the dark scheme.
    _edit(css, ".c-button--primary { background: var(--primary); color: var(--on-primary); }",
          ".c-button--primary { background: var(--primary); color: var(--muted); }")

    findings = _lint(design)
    report = "\n".join(findings)
    dark_line = _line(css, "color: #5a4a30")
    assert _has(findings, brand, _line(brand, '"primary": "#1c6f3d"'), "error",
                "dark primary (#1c6f3d) on dark surface"), report
    assert _has(findings, css, dark_line, "error", "in the dark scheme, #5a4a30 (#5a4a30) on "
                "var(--warning) (#3a2a10) has a contrast of"), report
    assert not any(f.startswith(f"{css.as_posix()}:{dark_line}: ") and "light scheme" in f for f in findings)
    button_line = _line(css, "background: var(--primary); color: var(--muted)")
    for scheme in ("light", "dark"):
        assert _has(findings, css, button_line, "error", f"in the {scheme} scheme, var(--muted)"), report


def test_painted_pairs_know_their_scheme() -> None:
    source = (".a { color: #111111; background: #ffffff; }\n"
              "@media (prefers-color-scheme: dark) {\n"
              "  .b { color: {{ brand.dark.colors.text }} !important; background: #000000; }\n"
              "}\n"
              "[data-ogsb] .c { color: #eeeeee; background-color: #222222; }\n"
              ".d { color: var(--text); background: var(--surface); }\n"
              '<mj-button background-color="{{ brand.colors.primary }}"'
              ' color="{{ brand.colors.on_primary }}">\n'
              '<td style="color:{{ brand.colors.muted }};background:#ffffff;">x</td>\n'
              ".e { color: #111111; }\n")
    found = {pair.line: pair.schemes for pair in painted_pairs(source)}
    assert found == {1: ("light",), 3: ("dark",), 5: ("dark",), 6: ("light", "dark"), 7: ("light",),
                     8: ("light",)}


def test_personal_blocks_need_the_preference_link_and_the_unsubscribe_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "design"
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "components", root / "components")
    (root / "fixtures" / "invoice").mkdir(parents=True)
    shutil.copyfile(FIXTURES / "invoice/cross-sell-arpeggia-en.json",
                    root / "fixtures/invoice/cross-sell-arpeggia-en.json")
    invoice = root / "templates/invoice/email.mjml"
    _edit(invoice, '<mj-include path="components/footer/email.mjml" />', "")
    # And a channel that forgets RFC 8058's headers on an email with blocks.
    monkeypatch.setattr("app.channels.email.list_headers", lambda enriched: {})
    findings = _lint(root)
    report = "\n".join(findings)
    assert _has(findings, invoice, _line(invoice, "components/offers/"), "error",
                "renders personal blocks (components/offers) without the preference centre's link"), report
    fixture = root / "fixtures/invoice/cross-sell-arpeggia-en.json"
    assert _has(findings, fixture, None, "error",
                "email with personal blocks but without List-Unsubscribe and List-Unsubscribe-Post"), report
    assert _has(findings, fixture, None, "error",
                "email with personal blocks does not link the preference centre"), report
    # The shipped templates pass: their footer links it.
    assert not [f for f in findings if "preference centre" in f and "/bill/" in f]

"""The brand's look written into a template (app/templating/constants.py): always the text the
template itself renders, and for every message of a brand one variant, compiled once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jinja2.exceptions import UndefinedError

from app.pipeline import prepare_message
from app.templating import create_environment, render, template
from app.templating.constants import VARIANTS, Constants
from tests.conftest import fixture_paths

LOOK = "{{ brand.colors.primary }}|{{ brand.dark.colors.primary }}|{{ fonts.stack }}|{{ name }}"


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_fixtures_email_is_the_templates_own_text_from_a_variant(app: Flask, path: Path) -> None:
    with app.test_request_context():
        message, _ = prepare_message(json.loads(path.read_text(encoding="utf-8")))
        context = {**message.context, "channel": "email"}
        name = f"email/{message.type}/email.mjml"
        base = template(name)
        variants: Constants = app.extensions["touchpoint.jinja.constants"]
        variant = variants.template(name, base, context)
        assert variant is not base  # every email has the brand's colours in it
        assert variant.render(context) == base.render(context) == render(name, context)
        assert variants.template(name, base, context) is variant  # compiled once


def _environment(tmp_path: Path, sources: dict[str, str]) -> Any:
    for name, source in sources.items():
        (tmp_path / "templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "templates" / name).write_text(source, encoding="utf-8")
    (tmp_path / "components").mkdir(exist_ok=True)
    return create_environment(tmp_path / "templates", tmp_path / "components", auto_reload=True)


def _context(primary: str, dark: str = "#000000", name: str = "Ada") -> dict[str, Any]:
    return {"brand": {"colors": {"primary": primary}, "dark": {"colors": {"primary": dark}}}, "name": name}


def test_values_are_escaped_as_autoescape_does_and_code_is_never_written_in(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"look.html": LOOK})
    variants, base = Constants(env), env.get_template("templates/look.html")
    for primary in ("#1b6e3c", "<b>&\"'", "{{ 7 * 7 }}", "{% if true %}x{% endif %}", "}}{#"):
        context = _context(primary)
        variant = variants.template("templates/look.html", base, context)
        assert variant.render(context) == base.render(context)
        assert variant is not base  # the dark colour and the family are written in either way
    assert "{{ 7 * 7 }}" in base.render(_context("{{ 7 * 7 }}"))  # a value, shown, never run


def test_each_look_has_its_variant_and_the_oldest_go_first(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"look.html": LOOK})
    variants, base = Constants(env), env.get_template("templates/look.html")
    green = variants.template("templates/look.html", base, _context("#00ff00"))
    assert variants.template("templates/look.html", base, _context("#00ff00", name="Bo")) is green
    red = variants.template("templates/look.html", base, _context("#ff0000"))
    assert red is not green and red.render(_context("#ff0000")).startswith("#ff0000|")
    for n in range(VARIANTS):
        variants.template("templates/look.html", base, _context(f"#{n:06x}"))
    assert variants.template("templates/look.html", base, _context("#00ff00")) is not green


def test_a_looks_texts_are_made_once_for_the_same_objects_and_anew_for_new_ones(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"look.html": LOOK})
    variants, base = Constants(env), env.get_template("templates/look.html")
    made = []
    text = variants._text
    variants._text = lambda path, context: made.append(path) or text(path, context)  # type: ignore[method-assign]
    colors, dark = {"primary": "#1b6e3c"}, {"colors": {"primary": "#000000"}}
    # A new view of the brand each message, around the very same colours: made once.
    for name in ("Ada", "Bo", "Cy"):
        context = {"brand": {"colors": colors, "dark": dark}, "name": name}
        assert variants.template("templates/look.html", base, context).render(context) == base.render(context)
    assert len(made) == len(set(made))
    # The brand loaded anew (a designer's edit): other objects, whatever they hold, made anew.
    made.clear()
    context = {"brand": {"colors": {"primary": "#ff0000"}, "dark": dark}, "name": "Di"}
    rendered = variants.template("templates/look.html", base, context).render(context)
    assert made and rendered == base.render(context) and rendered.startswith("#ff0000|")


@pytest.mark.parametrize("source", [
    "{% set brand = other %}" + LOOK,
    "{% for brand in brands %}{% endfor %}" + LOOK,
    "{% with brand = other %}{{ brand.colors.primary }}{% endwith %}" + LOOK,
    "{% macro card(brand) %}{{ brand.colors.primary }}{% endmacro %}" + LOOK,
    "{% raw %}{{ brand.colors.primary }}{% endraw %}" + LOOK,
    "{% autoescape false %}{{ brand.colors.primary }}{% endautoescape %}" + LOOK,
    "{{ brand.colors.primary|upper }}{{ name }}",
    "{{- brand.colors.primary -}}{{ name }}",
    "{{ name }}",
])
def test_a_template_that_may_mean_otherwise_or_has_nothing_to_write_in_is_its_own(
        tmp_path: Path, source: str) -> None:
    env = _environment(tmp_path, {"look.html": source})
    variants, base = Constants(env), env.get_template("templates/look.html")
    context = {**_context("#123456"), "other": _context("#654321")["brand"], "brands": []}
    assert variants.template("templates/look.html", base, context) is base


def test_a_template_changed_on_disk_gets_a_variant_of_its_new_text(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"look.html": LOOK})
    variants, context = Constants(env), _context("#123456")
    first = variants.template("templates/look.html", env.get_template("templates/look.html"), context)
    path = tmp_path / "templates" / "look.html"
    path.write_text("EDITED " + LOOK, encoding="utf-8")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    base = env.get_template("templates/look.html")
    second = variants.template("templates/look.html", base, context)
    assert second is not first and second.render(context) == base.render(context)
    assert second.render(context).startswith("EDITED #123456|")


def test_a_missing_value_stays_an_error(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"look.html": "{{ fonts.stack }}{{ brand.colors.missing }}"})
    variants, base = Constants(env), env.get_template("templates/look.html")
    with pytest.raises(UndefinedError, match="missing"):
        base.render(_context("#123456"))
    with pytest.raises(UndefinedError, match="missing"):
        variants.template("templates/look.html", base, _context("#123456")).render(_context("#123456"))

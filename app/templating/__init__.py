"""The one Jinja environment every template runs in, and helpers to render with it.

Templates are edited by designers, so they run sandboxed (no attribute tricks reach Python
internals), with autoescape on for every file: `.mjml`, `.html` and the text templates alike.
StrictUndefined turns a misspelt variable into an error instead of a silent blank.

Template names:
- `templates/<type>/document.html`, `templates/<type>/email.txt`, ...: files under templates/
- `components/<name>/document.html`: a component's document face
- `email/<type>/email.mjml`: the message's MJML, compiled once (see mjml_loader.py)
"""

from __future__ import annotations

import re
from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from jinja2 import FileSystemLoader, PrefixLoader, StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from app import fonts
from app.i18n import translations
from app.templating.constants import Constants
from app.templating.mjml_loader import MjmlCompileError, MjmlLoader

__all__ = ["MjmlCompileError", "compiled", "create_environment", "environment", "init_app", "render"]


# `_()`, `gettext()` and `ngettext()` in a template, as Jinja's i18n extension makes them with
# `newstyle=True` (the translation, marked safe when autoescaping, then always formatted with
# its variables, which are escaped), in the message's language: one call where the
# extension's wrappers made three (`_` resolving `gettext`, which calls the function it
# wraps), some thirty times a render.
@pass_context
def _gettext(context: Context, message: str, /, **values: Any) -> str:
    catalog = translations(context["lang"])
    if not values:  # most of them: the same text in every message of a language
        return _translated(catalog, message, context.eval_ctx.autoescape)
    text = catalog.gettext(message)
    return (Markup(text) if context.eval_ctx.autoescape else text) % values


@lru_cache(maxsize=4096)
def _translated(catalog: NullTranslations, message: str, autoescape: bool) -> str:
    """`_(message)` without variables, as `_gettext` makes it (formatted all the same: `%%`
    is `%`), kept per catalog: a reloaded catalog is a new one, and its texts are made anew."""
    text = catalog.gettext(message)
    return (Markup(text) if autoescape else text) % {}


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int, /, **values: Any) -> str:
    text = translations(context["lang"]).ngettext(singular, plural, n)
    values.setdefault("num", n)
    return (Markup(text) if context.eval_ctx.autoescape else text) % values


def _css_string(value: str) -> Markup:
    """A value as a CSS string literal, for `content:` in @page rules."""
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ")
    escaped = escaped.replace("<", "\\3C ").replace(">", "\\3E ")
    return Markup(f'"{escaped}"')


@pass_context
def _page_of_pages(context: Context) -> Markup:
    """`content:` for a page footer: "Page 2 of 5", the words in the message's language."""
    text = translations(context["lang"]).gettext("Page %(page)s of %(pages)s")
    parts = []
    for piece in re.split(r"(%\((?:page|pages)\)s)", text):
        if piece == "%(page)s":
            parts.append("counter(page)")
        elif piece == "%(pages)s":
            parts.append("counter(pages)")
        elif piece:
            parts.append(_css_string(piece))
    return Markup(" ".join(parts))


_DICT_ATTRIBUTES = frozenset(dir(dict))


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with `x.key` on a plain dict answered in one step.

    Every context value our composers hand a template is a dict, and `x.key` is the bulk of a
    template's work (about 500 lookups in a bill's email). Jinja tries `getattr(x, "key")`
    first and, on the AttributeError, `x["key"]`: the raised exception is most of the cost.
    A plain dict has no attribute but those of its class, so for any other name the first try
    can only fail: this goes straight to the item, with the same result (a key that shadows a
    dict method, such as `items`, still gives the method, as in Jinja). Everything else,
    including any name a dict does have, goes through the sandbox's own checks unchanged."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def create_environment(
    templates_dir: Path, components_dir: Path, auto_reload: bool = True, public_base_url: str = ""
) -> TemplateSandbox:
    loader = PrefixLoader(
        {
            "templates": FileSystemLoader(templates_dir),
            "components": FileSystemLoader(components_dir),
            "email": MjmlLoader(templates_dir, components_dir),
        }
    )
    env = TemplateSandbox(
        loader=loader,
        autoescape=True,
        undefined=StrictUndefined,
        auto_reload=auto_reload,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n"],
        cache_size=400,
    )
    # Newstyle, so the extension compiles `{% trans %}` to calls with keyword variables; the
    # callables the templates reach are then ours, unwrapped (see _gettext).
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(_=_gettext, gettext=_gettext, ngettext=_ngettext)
    env.filters["css_string"] = _css_string
    env.globals["page_of_pages"] = _page_of_pages
    # The type family (app/fonts): its faces for @font-face, its stack for font-family.
    env.globals["fonts"] = {"family": fonts.FAMILY, "stack": Markup(fonts.STACK),
                            "faces": fonts.faces(public_base_url)}
    return env


def init_app(app: Flask) -> None:
    environment = create_environment(
        Path(app.config["TEMPLATES_DIR"]),
        Path(app.config["COMPONENTS_DIR"]),
        auto_reload=app.config["TEMPLATE_AUTO_RELOAD"],
        public_base_url=app.config["PUBLIC_BASE_URL"],
    )
    app.extensions["touchpoint.jinja"] = environment
    app.extensions["touchpoint.jinja.constants"] = Constants(environment)


def environment() -> TemplateSandbox:
    return current_app.extensions["touchpoint.jinja"]


def template(name: str) -> Template:
    return environment().get_template(name)


def compiled(name: str, context: dict[str, Any]) -> Template:
    """What `render` runs for `name` and `context`: its variant with the brand's look written
    in (constants.py), which renders the same text, or the template itself."""
    variants: Constants = current_app.extensions["touchpoint.jinja.constants"]
    return variants.template(name, template(name), context)


def render(name: str, context: dict[str, Any]) -> str:
    return compiled(name, context).render(context)

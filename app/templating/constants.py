"""A template with the brand's look written into it: the same output, with less to look up.

An email's MJML compiles to HTML with about 130 inline `{{ brand.colors.surface }}`,
`{{ brand.dark.colors.primary }}` and `{{ fonts.stack }}`: each a sandboxed lookup, an escape
and a piece of output, in every render, for values that are the same in every message of a
brand. Measured on one core, the compiled template alone: a bill's 0.86 ms, 0.58 ms with them
written in; an invoice's 0.54 and 0.35 ms, an appointment's 0.36 and 0.27 ms.

So `Constants.template(name, base, context)` answers a variant of `base` (the environment's
template `name`) whose source has each such expression replaced by the text it renders to in
`context`, escaped as autoescape would: one variant per template and set of values (a brand's
look), compiled once and kept (at most VARIANTS, least recently used out). The same output:
- only `{{ path }}` of the paths below, with nothing else inside the braces (no filter, no
  whitespace control), and only when the value is a string (Markup as it is, else escaped);
  a missing value or another type leaves the expression as it was;
- a value whose text holds a delimiter of Jinja's (`{{`, `{%`, `{#` or their ends) is left as
  an expression too: written into the source, it would be read as template code;
- a template whose source says `{% raw %}` or `{% autoescape %}`, or binds `brand` or `fonts`
  itself (`set`, `for`, `with`, `import … as`, a macro's parameter), is never varied;
- the first render of each variant is compared with the template's own, and a difference (none
  is known) turns that template's variants off for good, with a warning in the log.
Only the template rendered is varied, not what it includes.
A template whose source has none of these expressions is answered as it is, after one look
at its source.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from jinja2 import Environment, Template, Undefined
from markupsafe import Markup, escape

log = logging.getLogger(__name__)
# Variants kept: a few templates (email HTML and text, web page, PDF, per type) times the
# brands' looks in use, with room for a designer editing colours in the workbench.
VARIANTS = 128
# What is the same in every message of a brand: its colours, light and dark, and the family.
_CONSTANT = re.compile(r"\{\{ ((?:brand\.colors|brand\.dark\.colors|fonts)\.[a-z_]+) \}\}")
_DELIMITERS = ("{{", "}}", "{%", "%}", "{#", "#}")
# What could make `brand` or `fonts` mean something else somewhere in a template, or its text
# not be escaped: a template that has any of these is never varied.
_REBINDS = re.compile(
    r"\{%-?\s*(?:raw|autoescape)\b"                          # literal text; another escaping
    r"|\{%-?\s*(?:set|for)\s+(?:\w+\s*,\s*)*(?:brand|fonts)\b"  # set brand = …, for brand in …
    r"|(?<![\w-])(?:brand|fonts)\s*=(?!=)"                     # with brand = …, a macro's brand=…
    r"|\bas\s+(?:brand|fonts)\b"                               # import … as brand
    r"|macro\s+\w+\([^)]*\b(?:brand|fonts)\b")                 # a macro's parameter


@lru_cache(maxsize=VARIANTS)
def _holders(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The objects the paths hang off (`brand.colors` of `brand.colors.primary`), each once."""
    return tuple(dict.fromkeys(path.rpartition(".")[0] for path in paths))


class Constants:
    """The variants of one environment's templates (thread-safe)."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        # Per base template (a reloaded one is a new object; the old one's entries go with it):
        # its constant paths, () for none, and its source.
        self._paths: weakref.WeakKeyDictionary[Template, tuple[str, ...]] = weakref.WeakKeyDictionary()
        self._sources: weakref.WeakKeyDictionary[Template, str] = weakref.WeakKeyDictionary()
        self._variants: OrderedDict[tuple[Template, tuple[str | None, ...]], Template] = OrderedDict()
        # Per base template and the ids of the objects its paths hang off: those objects and
        # the texts made from them (`_values`).
        self._texts: OrderedDict[tuple[Template, tuple[int, ...]],
                                 tuple[tuple[Any, ...], tuple[str | None, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def template(self, name: str, base: Template, context: dict[str, Any]) -> Template:
        paths = self._paths.get(base)
        if paths is None:
            paths = self._read(name, base)
        if not paths:
            return base
        values = self._values(base, paths, context)
        if not any(value is not None for value in values):
            return base
        key = (base, values)
        with self._lock:
            variant = self._variants.get(key)
            if variant is not None:
                self._variants.move_to_end(key)
                return variant
        variant = self._compile(name, base, dict(zip(paths, values, strict=True)))
        if variant.render(context) != base.render(context):
            log.warning("the brand's look written into %s renders otherwise: turned off", name)
            with self._lock:
                self._paths[base] = ()
            return base
        with self._lock:
            self._variants[key] = variant
            while len(self._variants) > VARIANTS:
                self._variants.popitem(last=False)
        return variant

    def _read(self, name: str, base: Template) -> tuple[str, ...]:
        """The constant paths in the source of `base`, each once; () when it has none, or may not vary."""
        source, _, _ = self.environment.loader.get_source(self.environment, name)  # type: ignore[union-attr]
        paths = () if _REBINDS.search(source) else tuple(dict.fromkeys(_CONSTANT.findall(source)))
        with self._lock:
            if paths:
                self._sources[base] = source
            self._paths[base] = paths
        return paths

    def _values(self, base: Template, paths: tuple[str, ...],
                context: dict[str, Any]) -> tuple[str | None, ...]:
        """What each path renders to in `context` (`_text`). The paths hang off a few objects
        (`brand.colors`, `brand.dark.colors`, `fonts`), the same ones in every message of a
        brand: the texts made from them are kept per template, for the last few sets of
        such objects, and reused while `context` holds the very same ones (found by their
        ids: an entry keeps its objects alive, so while it is kept no other object has those
        ids). Such an object is never changed in place: a brand edited is loaded anew, as a
        new one."""
        holders = tuple(self._value(holder, context) for holder in _holders(paths))
        key = (base, tuple(map(id, holders)))
        with self._lock:
            kept = self._texts.get(key)
            if kept is not None:
                self._texts.move_to_end(key)
                return kept[1]
        values = tuple(self._text(path, context) for path in paths)
        with self._lock:
            self._texts[key] = (holders, values)
            while len(self._texts) > VARIANTS:
                self._texts.popitem(last=False)
        return values

    def _value(self, path: str, context: dict[str, Any]) -> Any:
        """What `path` reads in `context`, looked up as the template looks it up."""
        first, *rest = path.split(".")
        value = context.get(first, self.environment.globals.get(first))
        for name in rest:
            value = self.environment.getattr(value, name)  # as the template reads `x.name`
            if isinstance(value, Undefined):
                return value
        return value

    def _text(self, path: str, context: dict[str, Any]) -> str | None:
        """What `{{ path }}` renders to in `context`, or None when it is not written in."""
        value = self._value(path, context)
        if not isinstance(value, str):
            return None
        text = str(value) if isinstance(value, Markup) else str(escape(value))
        return None if any(delimiter in text for delimiter in _DELIMITERS) else text

    def _compile(self, name: str, base: Template, texts: dict[str, str | None]) -> Template:
        source = _CONSTANT.sub(lambda found: texts.get(found.group(1)) or found.group(0), self._sources[base])
        environment = self.environment
        code = environment.compile(source, name, base.filename)
        return environment.template_class.from_code(environment, code, environment.make_globals(None))

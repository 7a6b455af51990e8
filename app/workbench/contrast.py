"""The colour pairs a template paints, in the light and the dark scheme, for lint's contrast check.

The contrast math itself (WCAG 2.x) is app/visuals/contrast.py, which the dark palette uses too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- The pairs a template paints, in the light and the dark scheme -----------------------------
#
# Lint reads each template as written and finds every place that sets a text colour and a
# background together: a CSS rule (`.c-button--primary { background: var(--primary);
# color: var(--on-primary); }`), a style attribute, or an MJML tag (`mj-button
# background-color="…" color="…"`). Each side is a literal (#rrggbb), a brand colour
# (`{{ brand.colors.primary }}`, `{{ brand.dark.colors.primary }}`, or a choice of them
# written as a Jinja conditional) or a CSS variable of templates/base/document.css. A pair is
# checked in the scheme it paints: rules inside `@media (prefers-color-scheme: dark)` or under
# Outlook's `[data-ogsc]`/`[data-ogsb]` hooks in the dark one; rules with CSS variables in both
# (the variables change with the scheme); the others in the light one.

_COLOUR_REF = re.compile(
    r"brand\.(dark\.)?colors\.(\w+)|var\(--([\w-]+)\)|#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")
_DECL = re.compile(r"(?<![\w-])(color|background(?:-color)?)\s*:\s*([^;}\"]+)")
_TAG_ATTR = re.compile(r"<mj-[\w-]+\b[^>]*>")
_STYLE_ATTR = re.compile(r'style="([^"]*)"')
_DARK_OPEN = re.compile(r"@media[^{]*prefers-color-scheme:\s*dark[^{]*\{")


@dataclass(frozen=True)
class PaintedPair:
    line: int
    foreground: str   # as written
    background: str
    schemes: tuple[str, ...]  # "light", "dark"


def _refs(value: str) -> list[tuple[str, str]]:
    """Each colour a value may take: ("light"|"dark"|"var"|"hex", name or hex)."""
    out = []
    for match in _COLOUR_REF.finditer(value):
        if match.group(2):
            out.append(("dark" if match.group(1) else "light", match.group(2)))
        elif match.group(3):
            out.append(("var", match.group(3)))
        else:
            out.append(("hex", match.group(0)))
    return out


def _dark_spans(source: str) -> list[tuple[int, int]]:
    """Where the source is inside a `prefers-color-scheme: dark` block (by brace matching)."""
    spans = []
    for match in _DARK_OPEN.finditer(source):
        depth, index = 1, match.end()
        while depth and index < len(source):
            if source.startswith("{{", index) or source.startswith("}}", index):
                index += 2
                continue
            depth += {"{": 1, "}": -1}.get(source[index], 0)
            index += 1
        spans.append((match.start(), index))
    return spans


def _pairs_in(declarations: str) -> tuple[str, str] | None:
    found = dict((name.split("-")[0], value.strip()) for name, value in _DECL.findall(declarations))
    if "color" in found and "background" in found and _refs(found["color"]) and _refs(found["background"]):
        return found["color"], found["background"]
    return None


def painted_pairs(source: str) -> list[PaintedPair]:
    """Every (text colour, background) a template sets together, with its line and schemes."""
    dark_spans = _dark_spans(source)
    pairs = []

    def add(position: int, pair: tuple[str, str] | None, hooked: bool = False) -> None:
        if pair is None:
            return
        dark = hooked or any(start <= position < end for start, end in dark_spans)
        uses_vars = any(kind == "var" for kind, _ in _refs(pair[0]) + _refs(pair[1]))
        schemes = ("dark",) if dark else ("light", "dark") if uses_vars else ("light",)
        pairs.append(PaintedPair(source.count("\n", 0, position) + 1, pair[0], pair[1], schemes))

    # CSS rules: `selector { declarations }` whose declarations hold no nested block.
    for match in re.finditer(r"([^{}]*)\{((?:[^{}]|\{\{[^}]*\}\})*)\}", source):
        selector, body = match.group(1), match.group(2)
        if "{{" in selector.strip()[-2:] or ":" not in body:
            continue
        add(match.start(2), _pairs_in(body), hooked="[data-ogs" in selector)
    for match in _STYLE_ATTR.finditer(source):
        add(match.start(1), _pairs_in(match.group(1)))
    for match in _TAG_ATTR.finditer(source):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(0)))
        if "color" in attrs and "background-color" in attrs:
            add(match.start(), (attrs["color"], attrs["background-color"]))
    return pairs


def resolve(value: str, scheme: str, light: dict[str, str], dark: dict[str, str],
            css_vars: dict[str, dict[str, str]]) -> list[str]:
    """The hex colours `value` may take in `scheme`; [] when it names none that is known."""
    out = []
    for kind, name in _refs(value):
        if kind == "hex":
            out.append(name)
        elif kind in ("light", "dark"):
            colour = (light if kind == "light" else dark).get(name)
            if colour:
                out.append(colour)
        else:
            mapped = css_vars.get(scheme, {}).get(name)
            if mapped:
                out.extend(resolve(mapped, scheme, light, dark, css_vars))
    return out


def css_variables(source: str) -> dict[str, dict[str, str]]:
    """The `--name: value` of document.css's `:root` rules: the light ones, and the dark ones
    over them (inside `prefers-color-scheme: dark`)."""
    dark_spans = _dark_spans(source)
    found: dict[str, dict[str, str]] = {"light": {}, "dark": {}}
    for match in re.finditer(r":root\s*\{((?:[^{}]|\{\{[^}]*\}\})*)\}", source):
        scheme = "dark" if any(s <= match.start() < e for s, e in dark_spans) else "light"
        for name, value in re.findall(r"--([\w-]+)\s*:\s*([^;]+)", match.group(1)):
            found[scheme][name] = value.strip()
    found["dark"] = {**found["light"], **found["dark"]}
    return found


def pair_candidates(foreground: list[str], background: list[str]) -> list[tuple[str, str]]:
    """Both sides written as the same conditional (`a if first else b`) pair up in order."""
    if len(foreground) == len(background) > 1:
        return list(zip(foreground, background, strict=True))
    return [(f, b) for f in foreground for b in background]

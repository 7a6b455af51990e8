"""The MJML rules mjml-python (mrml) leaves unchecked, each with its file and line.

mrml compiles leniently: an unknown `<mj-foo>`, an illegal attribute or an `mj-image`
without alt text compile without a word, and a broken tree fails with no line. MJML's own
validator reports `Line N of <file> (mj-button): message`; this module does the same for
the rules that matter here, plus the two that keep compile-once MJML right (see
app/templating/mjml_loader.py): no Jinja in a size MJML computes with, and Jinja block tags
between MJML elements only inside `<mj-raw>`, opened and closed among the same siblings.

Input: an MJML file (and, through `mj-include`, the files it includes). Output: findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

# Elements whose content MJML copies as HTML (or CSS, or text) instead of parsing.
ENDING = {"mj-text", "mj-button", "mj-table", "mj-raw", "mj-navbar-link", "mj-accordion-title",
          "mj-accordion-text", "mj-social-element", "mj-style", "mj-title", "mj-preview"}
HEAD_ONLY = {"mj-attributes", "mj-breakpoint", "mj-font", "mj-html-attributes", "mj-preview",
             "mj-style", "mj-title"}
CONTENT = {"mj-text", "mj-button", "mj-image", "mj-table", "mj-divider", "mj-spacer", "mj-social",
           "mj-navbar", "mj-accordion", "mj-carousel"}

_PADDING = {"padding", "padding-top", "padding-bottom", "padding-left", "padding-right"}
_BORDER = {"border", "border-top", "border-bottom", "border-left", "border-right", "border-radius"}
_FONT = {"color", "font-family", "font-size", "font-style", "font-weight", "line-height",
         "letter-spacing", "text-decoration", "text-transform", "align"}
_BACKGROUND = {"background-color", "background-position", "background-position-x",
               "background-position-y", "background-repeat", "background-size", "background-url"}
_COMMON = {"css-class", "mj-class"}

# Attributes each element allows (MJML 4 `allowedAttributes`); None: not checked here.
ALLOWED: dict[str, set[str] | None] = {
    "mjml": {"lang", "dir", "owa"},
    "mj-head": set(),
    "mj-body": {"width", "background-color"} | _COMMON,
    "mj-include": {"path", "type", "css-inline"},
    "mj-attributes": set(), "mj-all": None, "mj-class": None,
    "mj-breakpoint": {"width"},
    "mj-font": {"name", "href"},
    "mj-html-attributes": set(), "mj-html-attribute": {"name"}, "mj-selector": {"path"},
    "mj-preview": set(), "mj-title": set(),
    "mj-style": {"inline"},
    "mj-raw": {"position"} | _COMMON,
    "mj-wrapper": _BACKGROUND | _PADDING | _BORDER | _COMMON | {"full-width", "text-align", "gap"},
    "mj-section": _BACKGROUND | _PADDING | _BORDER | _COMMON | {"direction", "full-width", "text-align"},
    "mj-group": {"width", "vertical-align", "background-color", "direction"} | _COMMON,
    "mj-column": _PADDING | _BORDER | _COMMON | {
        "background-color", "inner-background-color", "inner-border", "inner-border-top",
        "inner-border-bottom", "inner-border-left", "inner-border-right", "inner-border-radius",
        "width", "vertical-align", "direction"},
    "mj-text": _FONT | _PADDING | _COMMON | {"height", "container-background-color"},
    "mj-button": _FONT | _PADDING | _BORDER | _COMMON | {
        "background-color", "container-background-color", "height", "href", "inner-padding",
        "rel", "target", "text-align", "title", "vertical-align", "width", "name"},
    "mj-image": _PADDING | _BORDER | _COMMON | {
        "align", "alt", "container-background-color", "fluid-on-mobile", "height", "href", "name",
        "rel", "sizes", "src", "srcset", "target", "title", "usemap", "width", "max-height",
        "font-size"},
    "mj-table": _FONT | _PADDING | _COMMON | {
        "border", "cellpadding", "cellspacing", "container-background-color", "role",
        "table-layout", "vertical-align", "width"},
    "mj-divider": _PADDING | _COMMON | {"border-color", "border-style", "border-width",
                                        "container-background-color", "width", "align"},
    "mj-spacer": _PADDING | _COMMON | {"height", "container-background-color"},
    "mj-hero": None, "mj-navbar": None, "mj-navbar-link": None, "mj-social": None,
    "mj-social-element": None, "mj-accordion": None, "mj-accordion-element": None,
    "mj-accordion-title": None, "mj-accordion-text": None, "mj-carousel": None,
    "mj-carousel-image": None,
}

# Where each element may stand (MJML's validator `validChildren`, read from the parent side).
PARENTS: dict[str, set[str]] = {
    "mj-head": {"mjml"}, "mj-body": {"mjml"},
    **{tag: {"mj-head"} for tag in HEAD_ONLY},
    "mj-all": {"mj-attributes"}, "mj-class": {"mj-attributes"},
    "mj-html-attribute": {"mj-selector"}, "mj-selector": {"mj-html-attributes"},
    "mj-wrapper": {"mj-body"},
    "mj-hero": {"mj-body", "mj-wrapper"},
    "mj-section": {"mj-body", "mj-wrapper"},
    "mj-group": {"mj-section"},
    "mj-column": {"mj-section", "mj-group"},
    **{tag: {"mj-column", "mj-hero"} for tag in CONTENT},
    "mj-navbar-link": {"mj-navbar"}, "mj-social-element": {"mj-social"},
    "mj-accordion-element": {"mj-accordion"},
    "mj-accordion-title": {"mj-accordion-element"}, "mj-accordion-text": {"mj-accordion-element"},
    "mj-carousel-image": {"mj-carousel"},
}

# Attributes MJML parses to compute widths and heights: Jinja in one is compiled as garbage.
SIZE_ATTRIBUTES = {"width", "height", "border-width", "inner-padding", "icon-size"} | _PADDING | (
    _BORDER - {"border-radius"})
_SIZE_VALUE = re.compile(r"^\d+(\.\d+)?(px|%)$")
_JINJA_BLOCK = re.compile(r"\{%-?\s*(\w+)(.*?)-?%\}", re.S)
_JINJA_ANY = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
OPENERS = {"if", "for", "block", "macro", "call", "filter", "with", "autoescape", "trans"}
MIDDLES = {"else", "elif", "pluralize"}


@dataclass
class Finding:
    path: Path
    line: int | None
    severity: str  # "error" or "warning"
    message: str


@dataclass
class _Element:
    tag: str
    line: int
    serial: int
    widths: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class _Block:
    keyword: str
    scope: int
    line: int


Resolve = Callable[[str], Path]


class _Checker(HTMLParser):
    def __init__(self, path: Path, parent: str | None, resolve: Resolve) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.resolve = resolve
        self.findings: list[Finding] = []
        self.includes: list[tuple[Path, str | None]] = []
        self.serial = 0
        # The element the file is included in stands at the bottom of the stack.
        self.stack: list[_Element] = [_Element(parent or "#document", 0, 0)]
        self.blocks: list[_Block] = []

    # Reporting

    def report(self, line: int | None, message: str, severity: str = "error") -> None:
        self.findings.append(Finding(self.path, line, severity, message))

    @property
    def line(self) -> int:
        return self.getpos()[0]

    def _inside_ending(self) -> bool:
        return self.stack[-1].tag in ENDING

    # Tags

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if self._inside_ending():
            return
        if tag != "mjml" and not tag.startswith("mj-"):
            self.report(self.line, f"<{tag}> between MJML elements: HTML belongs in an mj-text, "
                                   "mj-table or mj-raw")
            return
        line = self.line
        if tag not in ALLOWED:
            self.report(line, f"{tag}: unknown MJML element")
        self._check_parent(tag, line)
        self._check_attributes(tag, dict(attrs), [name for name, _ in attrs], line)
        if tag == "mj-include":
            self._include(dict(attrs), line)
        if tag == "mj-column":
            self._record_width(dict(attrs), line)
        self.serial += 1
        if not closed:
            self.stack.append(_Element(tag, line, self.serial))

    def _check_parent(self, tag: str, line: int) -> None:
        parent = self.stack[-1].tag
        if parent in {"#document"} or tag in {"mj-include", "mj-raw"}:
            return
        if parent == "mj-attributes" or tag not in PARENTS:
            return
        if parent not in PARENTS[tag]:
            allowed = ", ".join(sorted(PARENTS[tag]))
            self.report(line, f"{tag} cannot be a child of {parent} (it goes in {allowed})")

    def _check_attributes(self, tag: str, attrs: dict[str, str | None], names: list[str],
                          line: int) -> None:
        for name in names:
            if "{" in name or "%" in name or "}" in name:
                self.report(line, f"{tag}: Jinja inside the tag itself; put it in an attribute's "
                                  "value or around the element in <mj-raw>")
                return
        allowed = ALLOWED.get(tag)
        in_attributes = self.stack[-1].tag in {"mj-attributes", "mj-class", "mj-all"}
        if allowed is not None and not in_attributes:
            for name in names:
                if name not in allowed:
                    self.report(line, f'{tag}: attribute "{name}" is illegal')
        for name, value in attrs.items():
            value = value or ""
            has_jinja = "{{" in value or "{%" in value
            if name in SIZE_ATTRIBUTES and has_jinja and not _literal_border_width(name, value):
                self.report(line, f'{tag}: Jinja in {name}="{value}": MJML computes with this size '
                                  "when it compiles, before Jinja runs; use a constant")
            elif name in {"width", "height"} and value and not has_jinja and not in_attributes:
                auto = value == "auto" and (tag, name) in {("mj-image", "height"), ("mj-table", "width")}
                if not auto and not _SIZE_VALUE.match(value):
                    self.report(line, f'{tag}: {name}="{value}" needs a unit (px or %)')
        if tag == "mj-image" and not in_attributes:
            for needed in ("alt", "width", "height"):
                if needed not in attrs:
                    what = "alt text" if needed == "alt" else f"{needed} (px)"
                    self.report(line, f"mj-image has no {what}")
            if "src" not in attrs:
                self.report(line, "mj-image has no src")
        if tag == "mj-button" and "href" not in attrs and not in_attributes:
            self.report(line, "mj-button has no href", "warning")

    def _record_width(self, attrs: dict[str, str | None], line: int) -> None:
        value = attrs.get("width") or ""
        if value.endswith("%") and _SIZE_VALUE.match(value):
            self.stack[-1].widths.append((float(value[:-1]), line))

    def _include(self, attrs: dict[str, str | None], line: int) -> None:
        path = attrs.get("path")
        if not path:
            self.report(line, "mj-include has no path")
            return
        if attrs.get("type") in {"css", "html"}:
            return
        try:
            included = self.resolve(path)
        except Exception:  # TemplateNotFound and friends: all say "not there"
            self.report(line, f'mj-include: no file "{path}"')
            return
        self.includes.append((included, self.stack[-1].tag if self.stack[-1].tag != "#document" else None))

    def handle_endtag(self, tag: str) -> None:
        open_tags = [element.tag for element in self.stack[1:]]
        if self._inside_ending() and tag != self.stack[-1].tag and tag not in open_tags:
            return  # HTML (or a stray tag) inside an mj-text: MJML copies it
        if not (tag == "mjml" or tag.startswith("mj-")):
            return
        line = self.line
        if tag not in open_tags:
            self.report(line, f"</{tag}> closes nothing: no <{tag}> is open here")
            return
        while self.stack[-1].tag != tag:
            element = self.stack.pop()
            self.report(element.line, f"<{element.tag}> is never closed (</{tag}> at line {line} "
                                      "closes its parent)")
            self._end_scope(element, line)
        self._end_scope(self.stack.pop(), line)

    def _end_scope(self, element: _Element, line: int) -> None:
        while self.blocks and self.blocks[-1].scope == element.serial:
            block = self.blocks.pop()
            self.report(block.line, f"{{% {block.keyword} %}} is not closed inside the "
                                    f"<{element.tag}> it opens in (line {element.line})")
        total = sum(width for width, _ in element.widths)
        if total > 100.01:
            first_line = element.widths[0][1]
            self.report(first_line, f"{element.tag}: its columns are {total:g}% wide together")

    # Text between elements, and Jinja

    def handle_data(self, data: str) -> None:
        start_line = self.line
        data = _JINJA_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), data)
        top = self.stack[-1]
        if top.tag in ENDING:
            # Content MJML copies through: Jinja is fine; its blocks must close in this
            # element, or (in mj-raw, between elements) among the same siblings.
            scope = self.stack[-2].serial if top.tag == "mj-raw" else top.serial
            self._jinja_blocks(data, start_line, scope, top)
            return
        for match in _JINJA_ANY.finditer(data):
            line = start_line + data.count("\n", 0, match.start())
            text = " ".join(match.group(0).split())[:60]
            if match.group(0).startswith("{%"):
                self.report(line, f"{text} between MJML elements: wrap it in <mj-raw> so MJML "
                                  "keeps it where it stands")
            else:
                self.report(line, f"{text} between MJML elements: MJML drops text here; put it in "
                                  "an mj-text")
        # The text left once Jinja is blanked out (newlines kept, so offsets still give lines).
        rest = _JINJA_ANY.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), data)
        text = rest.strip()
        if text and top.tag != "#document":
            line = start_line + rest.count("\n", 0, rest.find(text[0]))
            self.report(line, f"text {text[:40]!r} inside <{top.tag}>: MJML drops it; put it "
                              "in an mj-text")

    def _jinja_blocks(self, data: str, start_line: int, scope: int, element: _Element) -> None:
        for match in _JINJA_BLOCK.finditer(data):
            keyword = match.group(1)
            line = start_line + data.count("\n", 0, match.start())
            if keyword == "set" and "=" not in match.group(2):
                keyword = "set-block"
            if keyword in OPENERS or keyword == "set-block":
                self.blocks.append(_Block(keyword, scope, line))
            elif keyword in MIDDLES or keyword.startswith("end"):
                if not self.blocks:
                    self.report(line, f"{{% {keyword} %}} has no opening block in this file")
                    continue
                block = self.blocks[-1]
                if block.scope != scope:
                    self.report(line, f"{{% {keyword} %}} is in another MJML element than the "
                                      f"{{% {block.keyword} %}} of line {block.line}: each element "
                                      "compiles to its own table, so the block would cut one")
                if keyword.startswith("end"):
                    self.blocks.pop()

    def finish(self) -> list[Finding]:
        self.close()
        for element in reversed(self.stack[1:]):
            self.report(element.line, f"<{element.tag}> is never closed")
            self._end_scope(element, element.line)
        for block in self.blocks:
            self.report(block.line, f"{{% {block.keyword} %}} is never closed")
        return self.findings


def _literal_border_width(name: str, value: str) -> bool:
    """`border="2px solid {{ colour }}"`: MJML computes with the width only, which is written."""
    return name.startswith("border") and bool(re.match(r"^\s*(\d+(\.\d+)?px|0|none)\s", value))


def check_file(path: Path, parent: str | None,
               resolve: Resolve) -> tuple[list[Finding], list[tuple[Path, str | None]]]:
    """Check one MJML file standing inside `parent` (None for a whole `<mjml>` document)."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(path, None, "error", f"cannot read: {exc}")], []
    checker = _Checker(path, parent, resolve)
    checker.feed(source)
    findings = checker.finish()
    if parent is None and "<mjml" not in source:
        findings.append(Finding(path, 1, "error", "no <mjml> root element"))
    return findings, checker.includes


def check_tree(main: Path, resolve: Resolve, parent: str | None = None,
               seen: set[tuple[Path, str | None]] | None = None) -> list[Finding]:
    """Check a file and every file it includes, each in the element it is included in."""
    seen = set() if seen is None else seen
    key = (main.resolve(), parent)
    if key in seen:
        return []
    seen.add(key)
    findings, includes = check_file(main, parent, resolve)
    for included, included_parent in includes:
        findings += check_tree(included, resolve, included_parent, seen)
    return findings


def standalone_parent(path: Path) -> str | None:
    """Where a file not reached from any message template would stand: a whole document,
    the head (its first element is a head element) or the body."""
    source = path.read_text(encoding="utf-8", errors="replace")
    first = re.search(r"<(mjml|mj-[a-z-]+)", source)
    if first is None or first.group(1) == "mjml":
        return None
    return "mj-head" if first.group(1) in HEAD_ONLY else "mj-body"

"""`flask --app app lint`: every component, template, brand and fixture checked, by file and line.

    components   component.json present and well formed; every value a face reads is a
                 declared parameter (besides `brand`, `channel`, `lang`, `locale`, which every
                 message has); every declared parameter is read by a face
    templates    Jinja syntax (compiled, so unknown filters count); <img> with alt text (and,
                 in email, width and height); no plain-http URL written in
    MJML         the structure rules of mjml_check.py, then a real compile by mjml-python
    preferences  a template with personal blocks (components/offers) links the preference
                 centre (links.preferences); an email has List-Unsubscribe and
                 List-Unsubscribe-Post exactly when it has blocks (RFC 8058)
    brands       brand.json, logo and catalogue readable; every colour pair the templates
                 paint text with reaches WCAG AA (4.5:1)
    translations every fixed text of app/, templates/ and components/ translated in every
                 language, placeholders kept (the same rules as tests/templating/test_i18n.py)
    fixtures     valid JSON that validates; rendered in every channel (the PDF by Jinja only,
                 not laid out), with its own brand and with every other brand, with no
                 undefined variable (the environment is StrictUndefined); the components'
                 required parameters in the context; the email and web page checked as sent
                 (rendered.py); the email under Gmail's 102 KB

Each finding is one line, `path:line: severity: message`, as compilers write them. Errors
make the exit status 1. `lint-allow.txt` at the repository root may list known findings
(one `path: message-prefix` a line, each with a comment saying who fixes it): they are
printed as "allowed" and do not fail the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch
from flask import Flask
from jinja2 import TemplateSyntaxError
from PIL import Image, UnidentifiedImageError

from app.brands import DEFAULT_COLORS
from app.channels import CHANNELS
from app.channels.email import GMAIL_CLIP_BYTES
from app.config import ROOT
from app.i18n import LANGUAGES
from app.schemas import MESSAGE_TYPES
from app.templating import MjmlCompileError, environment
from app.templating import render as render_template
from app.visuals.contrast import AA_NORMAL, contrast_ratio, parse_hex
from app.visuals.palette import dark_colors
from app.workbench import mjml_check
from app.workbench.contrast import css_variables, painted_pairs, pair_candidates, resolve
from app.workbench.failures import display_path, failure_from
from app.workbench.params import covers, used_paths, uses
from app.workbench.rendered import check_html
from app.workbench.scratch import Fixture, Scratch, file_of, list_fixtures, render_fixture

ALLOW_FILE = ROOT / "lint-allow.txt"
# Every message has these; a component may read them without declaring them.
AMBIENT = {"brand", "channel", "lang", "locale"}
# The pairs the templates paint text with: (text colour, background colour).
CONTRAST_PAIRS = (
    ("text", "background"), ("text", "surface"), ("text", "accent"),
    ("muted", "surface"), ("muted", "background"),
    ("on_primary", "primary"), ("primary", "surface"), ("primary", "accent"),
)
TEMPLATE_SUFFIXES = (".html", ".mjml", ".txt", ".css")
# Which template each channel renders, per type folder.
# A size an email may reach before lint warns that it is getting close to Gmail's limit.
EMAIL_WARN_BYTES = int(GMAIL_CLIP_BYTES * 0.75)
_IMG = re.compile(r"<img\b(?:\{\{.*?\}\}|\{%.*?%\}|[^>])*>", re.S)
_HTTP_URL = re.compile(r"""(?:href|src)\s*=\s*["'](http://[^"'{]+)""")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
_TEXT_URL = re.compile(r"\bhttps?://[^\s<>\"']+")
_GOOGLE_FONT = re.compile(r"fonts\.googleapis\.com/css\?family=([^:&]+)")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int | None
    severity: str  # "error", "warning"
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


def line_of(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


class Linter:
    def __init__(self, app: Flask) -> None:
        config = app.config
        self.templates = Path(config["TEMPLATES_DIR"])
        self.components = Path(config["COMPONENTS_DIR"])
        self.brands = Path(config["BRANDS_DIR"])
        self.fixtures = Path(config["FIXTURES_DIR"])
        self.translations = Path(config["TRANSLATIONS_DIR"])
        self.public_base_url = config["PUBLIC_BASE_URL"]
        self.registry = app.extensions["touchpoint.brands"]
        # (path, line, severity, message) -> the fixtures (or brands) it was seen with.
        self.found: dict[tuple[str, int | None, str, str], list[str]] = {}

    # Collecting

    def add(self, path: str | Path, line: int | None, severity: str, message: str,
            seen_with: str | None = None) -> None:
        key = (path if isinstance(path, str) else display_path(path), line, severity, message)
        names = self.found.setdefault(key, [])
        if seen_with and seen_with not in names:
            names.append(seen_with)

    def error(self, path: str | Path, line: int | None, message: str, seen_with: str | None = None) -> None:
        self.add(path, line, "error", message, seen_with)

    def warning(self, path: str | Path, line: int | None, message: str, seen_with: str | None = None) -> None:
        self.add(path, line, "warning", message, seen_with)

    def findings(self) -> list[Finding]:
        result = []
        for (path, line, severity, message), names in self.found.items():
            if names:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                message = f"{message} (rendering {shown})"
            result.append(Finding(path, line, severity, message))
        return sorted(result, key=lambda f: (f.path, f.line or 0, f.severity, f.message))

    def run(self, render: bool = True) -> list[Finding]:
        self.check_components()
        self.check_template_sources()
        self.check_mjml()
        self.check_preference_links()
        self.check_brands()
        self.check_painted_contrast()
        self.check_translations()
        if render:
            self.check_fixtures()
        return self.findings()

    # Components

    def component_dirs(self) -> list[Path]:
        return sorted(p for p in self.components.iterdir() if p.is_dir() and not p.name.startswith("."))

    def declared(self, folder: Path) -> dict[str, dict[str, Any]] | None:
        path = folder / "component.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            self.error(path, exc.lineno, f"not valid JSON: {exc.msg}")
            return None
        parameters = data.get("parameters") if isinstance(data, dict) else None
        if not isinstance(parameters, dict):
            self.error(path, None, 'no "parameters" object: declare what the faces read, each '
                                   'with a "default" or "required": true')
            return None
        if not data.get("description"):
            self.warning(path, None, 'no "description" saying what the component shows')
        return parameters

    def check_components(self) -> None:
        env = environment()
        ignore = set(env.globals)
        for folder in self.component_dirs():
            for name in ("email.mjml", "document.html", "component.json"):
                if not (folder / name).is_file():
                    self.error(folder / name, None, "missing: a component has an email face "
                                                   "(email.mjml), a document face (document.html) "
                                                   "and its parameters (component.json)")
            parameters = self.declared(folder)
            if parameters is None:
                continue
            spec_path = folder / "component.json"
            spec_text = spec_path.read_text(encoding="utf-8")
            for name, spec in parameters.items():
                if not isinstance(spec, dict) or ("default" not in spec and spec.get("required") is not True):
                    self.error(spec_path, line_of(spec_text, f'"{name}"'),
                               f'parameter "{name}" has neither a "default" nor "required": true')
            used: dict[str, tuple[Path, int]] = {}
            for face in ("email.mjml", "document.html"):
                path = folder / face
                if not path.is_file():
                    continue
                try:
                    tree = env.parse(path.read_text(encoding="utf-8"), filename=str(path))
                except TemplateSyntaxError:
                    continue  # reported by check_template_sources
                undeclared = {}
                for used_path, line in used_paths(tree, ignore).items():
                    used.setdefault(used_path, (path, line))
                    if used_path.split(".", 1)[0] not in AMBIENT and not any(
                            covers(declared, used_path) for declared in parameters):
                        undeclared[used_path] = line
                for used_path, line in undeclared.items():
                    # `invoice.order.tracking_url` says it all; `invoice` and `invoice.order` too.
                    if not any(other.startswith(used_path + ".") for other in undeclared):
                        self.error(path, line, f'reads "{used_path}", which component.json does not '
                                               "declare")
            for declared in parameters:
                if not any(uses(u, declared) for u in used):
                    self.warning(spec_path, line_of(spec_text, f'"{declared}"'),
                                 f'declares "{declared}", which neither face reads')

    # Templates as written

    def template_files(self) -> list[Path]:
        files = []
        for root in (self.templates, self.components):
            for path in sorted(root.rglob("*")):
                if (path.suffix in TEMPLATE_SUFFIXES and path.is_file()
                        and not path.is_relative_to(self.brands)):
                    files.append(path)
        return files

    def check_template_sources(self) -> None:
        env = environment()
        for path in self.template_files():
            source = path.read_text(encoding="utf-8")
            try:
                env.compile(source, filename=str(path))  # compiling also finds unknown filters
            except TemplateSyntaxError as exc:
                self.error(path, exc.lineno, f"Jinja: {exc.message}")
            if path.suffix in {".html", ".mjml"}:
                for match in _IMG.finditer(source):
                    line = source.count("\n", 0, match.start()) + 1
                    if not re.search(r"\balt\s*=", match.group(0)):
                        self.error(path, line, "<img> without alt text")
                    sized = all(re.search(rf"\b{a}\s*=", match.group(0)) for a in ("width", "height"))
                    if path.suffix == ".mjml" and not sized:
                        self.warning(path, line, "<img> in an email without width and height: "
                                                 "Outlook shows it at its natural size")
            for match in _HTTP_URL.finditer(source):
                self.error(path, source.count("\n", 0, match.start()) + 1,
                           f"{match.group(1)[:80]} is plain http: link with https")
        for channel in CHANNELS.values():
            for kind in channel.types:
                for name in channel.templates:
                    if not (self.templates / kind / name).is_file():
                        self.error(self.templates / kind / name, None,
                                   f"missing: every {kind} renders {channel.name} from it")

    # Customers in control: a message with personal blocks links the preference centre

    def _sources(self, *roots: Path) -> dict[Path, str]:
        """The text of each root and of every template and component file it includes,
        directly or not."""
        found: dict[Path, str] = {}
        pending = list(roots)
        while pending:
            current = pending.pop()
            if current in found or not current.is_file():
                continue
            source = found[current] = current.read_text(encoding="utf-8", errors="replace")
            pending += [self.components / p for p in re.findall(r"components/([\w./-]+\.\w+)", source)]
            pending += [self.templates / p for p in re.findall(r"templates/([\w./-]+\.\w+)", source)]
        return found

    def check_preference_links(self) -> None:
        """A message template that renders personal blocks (components/offers) must link the
        customer's preference centre (`links.preferences`, the footer's 'Manage what you
        receive'), in the same face: the blocks' why line points there to turn them off."""
        for kind in MESSAGE_TYPES:
            for name in ("email.mjml", "document.html"):
                sources = self._sources(self.templates / kind / name)
                offers = [(p, text) for p, text in sources.items() if "components/offers/" in text]
                if not offers or any("links.preferences" in text for text in sources.values()):
                    continue
                where, text = offers[0]
                self.error(where, line_of(text, "components/offers/"),
                           "renders personal blocks (components/offers) without the preference "
                           "centre's link (links.preferences, in components/footer)")

    # MJML

    def check_mjml(self) -> None:
        loader = environment().loader.mapping["email"]  # type: ignore[union-attr]
        seen: set[tuple[Path, str | None]] = set()
        findings: list[mjml_check.Finding] = []
        roots = sorted(self.templates.glob("*/email.mjml"))
        for root in roots:
            tree = mjml_check.check_tree(root, loader.resolve, None, seen)
            findings += tree
            if not any(f.severity == "error" for f in tree):
                try:
                    loader.compile(root.relative_to(self.templates).as_posix())
                except MjmlCompileError as exc:
                    self.error(root, None, f"mjml-python: {str(exc).split(': ', 1)[-1]}")
        reached = {path for path, _ in seen}
        for path in sorted([*self.components.glob("*/*.mjml"), *self.templates.glob("**/*.mjml")]):
            if path.resolve() in reached or path.is_relative_to(self.brands):
                continue
            if path.parent.parent.resolve() == self.templates.resolve() and path.name == "email.mjml":
                continue
            self.warning(path, None, "no message template includes it")
            findings += mjml_check.check_tree(path, loader.resolve, mjml_check.standalone_parent(path), seen)
        for finding in findings:
            self.add(finding.path, finding.line, finding.severity, finding.message)

    # Brands

    def check_brands(self) -> None:
        for folder in sorted(p for p in self.brands.iterdir() if p.is_dir()):
            path = folder / "brand.json"
            if not path.is_file():
                self.error(folder, None, "a brand folder needs a brand.json")
                continue
            text = path.read_text(encoding="utf-8")
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                self.error(path, exc.lineno, f"not valid JSON: {exc.msg}")
                continue
            for key in ("name", "email_from"):
                if not raw.get(key):
                    self.error(path, None, f'no "{key}"')
            website = raw.get("website")
            if website and not str(website).startswith("https://"):
                self.error(path, line_of(text, '"website"'), f'website "{website}" is not https')
            self._brand_legal(path, text, raw)
            self._brand_logo(path, text, raw)
            self._brand_colours(path, text, raw)
            self._brand_catalogue(folder)
            try:
                self.registry.get(folder.name)
            except Exception as exc:  # whatever stops it loading is the finding
                self.error(path, None, f"does not load: {exc}")

    def _brand_legal(self, path: Path, text: str, raw: dict[str, Any]) -> None:
        legal = raw.get("legal") or {}
        missing = [language for language in LANGUAGES if not legal.get(language)]
        if missing:
            self.warning(path, line_of(text, '"legal"'), f"no legal text in {', '.join(missing)}: "
                                                        "messages in it show the English one")

    def _brand_logo(self, path: Path, text: str, raw: dict[str, Any]) -> None:
        if not raw.get("logo"):
            self.warning(path, None, "no logo: messages show the brand's name instead")
            return
        logo = path.parent / raw["logo"]
        try:
            with Image.open(logo) as image:
                image.verify()
        except (OSError, UnidentifiedImageError) as exc:
            self.error(path, line_of(text, '"logo"'), f"logo {raw['logo']}: {exc}")

    def _brand_colours(self, path: Path, text: str, raw: dict[str, Any]) -> None:
        given = raw.get("colors") or {}
        colours = {**DEFAULT_COLORS, **given}
        for name, value in given.items():
            if parse_hex(str(value)) is None:
                self.error(path, line_of(text, f'"{name}"'), f'colour {name} "{value}" is not #rrggbb')
        for name in DEFAULT_COLORS:
            if name not in given:
                self.warning(path, line_of(text, '"colors"'),
                             f"no colour {name}: the default {DEFAULT_COLORS[name]} is used")
        self._contrast_pairs(path, text, colours, "")
        # The dark scheme: what "dark"."colors" declares, the rest derived (app/visuals/palette.py).
        declared = (raw.get("dark") or {}).get("colors") or {}
        for name, value in declared.items():
            if name not in DEFAULT_COLORS:
                self.error(path, line_of(text, f'"{name}"'), f'dark colour "{name}" is not one of '
                                                           f"{', '.join(DEFAULT_COLORS)}")
            elif parse_hex(str(value)) is None:
                self.error(path, line_of(text, f'"{name}"'), f'dark colour {name} "{value}" is not #rrggbb')
                return
        try:
            dark = dark_colors(colours, declared)
        except ValueError:
            return
        self._contrast_pairs(path, text, dark, "dark ")
        logo = (raw.get("dark") or {}).get("logo")
        if logo and not (path.parent / logo).is_file():
            self.error(path, line_of(text, f'"{logo}"'), f"dark logo {logo}: no such file")

    def _contrast_pairs(self, path: Path, text: str, colours: dict[str, str], scheme: str) -> None:
        for foreground, background in CONTRAST_PAIRS:
            try:
                ratio = contrast_ratio(colours[foreground], colours[background])
            except ValueError:
                continue
            if ratio < AA_NORMAL:
                self.error(path, _colour_line(text, foreground, dark=bool(scheme)),
                           f"{scheme}{foreground} ({colours[foreground]}) on {scheme}{background} "
                           f"({colours[background]}) has a contrast of {ratio:.2f}:1, below WCAG AA "
                           f"{AA_NORMAL}:1")

    # Colours the templates paint, in both schemes, with every brand's colours

    def check_painted_contrast(self) -> None:
        palettes = []
        for brand_id in self.registry.ids():
            try:
                brand = self.registry.get(brand_id)
            except Exception:
                continue
            palettes.append((brand_id, brand.colors, brand.dark["colors"]))
        css = self.templates / "base" / "document.css"
        variables = css_variables(css.read_text(encoding="utf-8")) if css.is_file() else {}
        for path in self.template_files():
            if path.suffix not in {".html", ".mjml", ".css"}:
                continue
            for pair in painted_pairs(path.read_text(encoding="utf-8")):
                for scheme in pair.schemes:
                    for brand_id, light, dark in palettes:
                        foregrounds = resolve(pair.foreground, scheme, light, dark, variables)
                        backgrounds = resolve(pair.background, scheme, light, dark, variables)
                        for fg, bg in pair_candidates(foregrounds, backgrounds):
                            ratio = contrast_ratio(fg, bg)
                            if ratio < AA_NORMAL:
                                what, under = pair.foreground.strip(" {}"), pair.background.strip(" {}")
                                self.error(path, pair.line,
                                           f"in the {scheme} scheme, {what} ({fg}) on {under} ({bg}) "
                                           f"has a contrast of {ratio:.2f}:1, below WCAG AA {AA_NORMAL}:1",
                                           brand_id)

    def _brand_catalogue(self, folder: Path) -> None:
        for name in ("products.json", "offers.json"):
            path = folder / name
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                self.error(path, exc.lineno, f"not valid JSON: {exc.msg}")
                continue
            items = data.get("products") if name == "products.json" and isinstance(data, dict) else None
            for item in items or []:
                image = item.get("image") if isinstance(item, dict) else None
                if image and not (folder / image).is_file():
                    self.error(path, line_of(text, f'"{image}"'), f"no picture {image} in {folder.name}/")

    # Translations

    def check_translations(self) -> None:
        locations = self._extracted()
        languages = [language for language in LANGUAGES if language != "en"]
        catalogues: dict[str, Catalog] = {}
        for language in languages:
            po = self.translations / language / "LC_MESSAGES" / "messages.po"
            try:
                with po.open("rb") as handle:
                    catalogues[language] = read_po(handle, locale=language)
            except OSError:
                self.error(po, None, f"no catalogue for {language}: run make translations")
        for msgid, places in sorted(locations.items(), key=lambda item: str(item[0])):
            problems = []
            for language, catalogue in catalogues.items():
                message = catalogue.get(msgid)
                strings = [] if message is None else (
                    [message.string] if isinstance(message.string, str) else list(message.string))
                if message is None:
                    problems.append(f"{language}: not in the catalogue")
                elif message.fuzzy:
                    problems.append(f"{language}: fuzzy, so not used")
                elif not strings or not all(s.strip() for s in strings):
                    problems.append(f"{language}: no translation")
                else:
                    ids = msgid if isinstance(msgid, tuple) else (msgid,)
                    expected = set(_PLACEHOLDER.findall(" ".join(ids)))
                    for translated in strings:
                        if set(_PLACEHOLDER.findall(translated)) != expected:
                            problems.append(f"{language}: placeholders differ ({translated!r})")
            if problems:
                path, line = sorted(places)[0]
                text = msgid if isinstance(msgid, str) else msgid[0]
                more = f" (and {len(places) - 1} more places)" if len(places) > 1 else ""
                self.error(path, line, f'"{text[:70]}" is untranslated: {"; ".join(problems)}{more}; '
                                       "run make translations and translate it")

    def _extracted(self) -> dict[str | tuple[str, ...], list[tuple[str, int]]]:
        """Every fixed text of the sources with where it is written, extracted as babel.cfg says
        (its patterns `app/`, `templates/` and `components/` applied to the configured folders)."""
        with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
            method_map, options_map = parse_mapping_cfg(handle)
        folders = {"app": ROOT / "app", "templates": self.templates, "components": self.components}
        found: dict[str | tuple[str, ...], list[tuple[str, int]]] = {}
        for prefix, folder in folders.items():
            patterns = [(p.removeprefix(prefix + "/"), m, options_map.get(p, {}))
                        for p, m in method_map if p.startswith(prefix + "/")]
            for path in sorted(folder.rglob("*")):
                relative = path.relative_to(folder).as_posix()
                if not path.is_file() or any(part.startswith(".") for part in path.parts):
                    continue
                match = next(((m, o) for p, m, o in patterns if pathmatch(p, relative)), None)
                if match is None:
                    continue
                try:
                    extracted = extract_from_file(match[0], path, DEFAULT_KEYWORDS, options=match[1])
                except Exception:  # a template Jinja cannot parse is reported elsewhere
                    continue
                for line, message, _comments, _context in extracted:
                    key = message if isinstance(message, str) else tuple(message)
                    found.setdefault(key, []).append((display_path(path), line))
        return found

    # Fixtures, rendered

    def components_of(self, kind: str) -> set[str]:
        """The components a type's templates include (directly or through templates/base)."""
        sources = self._sources(*(self.templates / kind).glob("*"))
        return {name for text in sources.values() for name in re.findall(r"components/([\w-]+)/", text)}

    def check_fixtures(self) -> None:
        brands = self.registry.ids()
        for fixture in list_fixtures(self.fixtures):
            text = fixture.path.read_text(encoding="utf-8")
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                self.error(fixture.path, exc.lineno, f"not valid JSON: {exc.msg}")
                continue
            if isinstance(document, dict) and not document.get("reference"):
                self.warning(fixture.path, None, 'no "reference" saying which case it shows')
            scratch = render_fixture(fixture)
            self._failures(scratch, fixture.name, text)
            if scratch.ok:
                self._rendered(scratch, fixture, text)
                self._required(scratch, fixture)
                self._pdf_template(scratch, fixture.name)
            # Every brand renders every type: what fails only with another brand is named with it.
            known = {(f.file, f.line, f.message) for f in scratch.failures.values()}
            own = document.get("brand") if isinstance(document, dict) else None
            for brand in brands:
                if brand != own:
                    self._failures(render_fixture(fixture, {"brand": brand}),
                                   f"{fixture.name} with brand {brand}", text, known)

    def _pdf_template(self, scratch: Scratch, seen_with: str) -> None:
        """The document face as the PDF channel fills it (`channel == "pdf"` branches), by
        Jinja alone: laying it out with WeasyPrint would add seconds per fixture."""
        assert scratch.message is not None and scratch.enriched is not None
        if "pdf" not in scratch.enriched.channels:
            return
        try:
            render_template(f"templates/{scratch.message.type}/document.html",
                            {**scratch.message.context, "channel": "pdf"})
        except Exception as exc:  # reported with its file and line
            failure = failure_from(exc, "pdf", scratch.fixture.path)
            self.error(failure.file or scratch.fixture.path, failure.line,
                       f"{failure.kind}: {failure.message}", seen_with)

    def _failures(self, scratch: Scratch, seen_with: str, text: str,
                  known: set[tuple[str | None, int | None, str]] | None = None) -> None:
        for failure in scratch.failures.values():
            if known and (failure.file, failure.line, failure.message) in known:
                continue
            if failure.view == "fixture" and not failure.line:
                details = failure.details or [failure.message]
                for detail in details:
                    field = detail.split(":", 1)[0].split(".")[-1].split("[")[0]
                    line = line_of(text, f'"{field}"') if seen_with == scratch.fixture.name else None
                    own = seen_with == scratch.fixture.name
                    suffix = "" if own else f" (with {seen_with.split(' with ')[-1]})"
                    self.error(scratch.fixture.path, line, f"does not render: {detail}{suffix}")
                continue
            message = f"{failure.kind}: {failure.message}"
            if failure.note:
                message += f" [{failure.note}]"
            self.error(failure.file or scratch.fixture.path, failure.line, message, seen_with)

    def _rendered(self, scratch: Scratch, fixture: Fixture, text: str) -> None:
        views: list[tuple[str, str]] = []
        email = scratch.outputs.get("email")
        blocks = bool(scratch.enriched and scratch.enriched.personalisation.offers)
        if email is not None:
            views.append(("email", email.output["html"]))
            self._unsubscribe_headers(fixture, email.output, blocks)
            size = email.output["bytes"]
            if size > GMAIL_CLIP_BYTES:
                self.error(fixture.path, None, f"email HTML is {size / 1024:.1f} KB: Gmail clips "
                                               f"messages over {GMAIL_CLIP_BYTES // 1024} KB")
            elif size > EMAIL_WARN_BYTES:
                self.warning(fixture.path, None, f"email HTML is {size / 1024:.1f} KB, close to "
                                                 f"Gmail's {GMAIL_CLIP_BYTES // 1024} KB")
            self._text_links(fixture, "plain-text email", email.output["text"], text)
        web = scratch.outputs.get("web")
        if web is not None:
            views.append(("web page", (file_of(web, "page.html") or b"").decode()))
        sms = scratch.outputs.get("sms")
        if sms is not None:
            self._text_links(fixture, "SMS", sms.output["text"], text)
        for view, html in views:
            for issue in check_html(html, view, self.public_base_url):
                path, line = self._locate(issue.url, fixture, text)
                self.add(path, line, issue.severity, issue.message,
                         None if path == display_path(fixture.path) else fixture.name)

    def _unsubscribe_headers(self, fixture: Fixture, output: dict[str, Any], blocks: bool) -> None:
        """RFC 8058: List-Unsubscribe and List-Unsubscribe-Post exactly when there are blocks;
        and the preference centre linked from an email that has them."""
        headers = output.get("headers") or {}
        has = "List-Unsubscribe" in headers and \
            headers.get("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        if blocks and not has:
            self.error(fixture.path, None, "email with personal blocks but without List-Unsubscribe "
                                           "and List-Unsubscribe-Post (RFC 8058)")
        elif headers and not blocks:
            self.error(fixture.path, None, "email without personal blocks carries List-Unsubscribe")
        if blocks and "/p/" not in output["html"]:
            self.error(fixture.path, None, "email with personal blocks does not link the preference "
                                           "centre (/p/)")

    def _text_links(self, fixture: Fixture, view: str, body: str, text: str) -> None:
        for url in _TEXT_URL.findall(body):
            if url.startswith("https://") or url.startswith(self.public_base_url + "/"):
                continue
            path, line = self._locate(url, fixture, text)
            self.add(path, line, "error", f'{view}: "{url[:100]}" is not an https URL',
                     None if path == display_path(fixture.path) else fixture.name)

    def _locate(self, url: str | None, fixture: Fixture, text: str) -> tuple[str, int | None]:
        """Where a URL in the output was written: the fixture, or a template, or (for a web
        font mjml-python adds for a font family) the MJML that names the family."""
        if url:
            needle = url
            font = _GOOGLE_FONT.search(url)
            if font:
                needle = font.group(1).replace("+", " ")
                for path in self.template_files():
                    if path.suffix == ".mjml":
                        line = line_of(path.read_text(encoding="utf-8"), needle)
                        if line:
                            return display_path(path), line
            elif (line := line_of(text, json.dumps(url)[1:-1])) is not None:
                return display_path(fixture.path), line
            else:
                for path in self.template_files():
                    line = line_of(path.read_text(encoding="utf-8"), needle)
                    if line:
                        return display_path(path), line
        return display_path(fixture.path), None

    def _required(self, scratch: Scratch, fixture: Fixture) -> None:
        """The callers' side of component.json: each required parameter is in the context."""
        assert scratch.message is not None
        context = scratch.message.context
        for name in sorted(self.components_of(fixture.type)):
            spec_path = self.components / name / "component.json"
            try:
                parameters = json.loads(spec_path.read_text(encoding="utf-8")).get("parameters") or {}
            except (OSError, json.JSONDecodeError, AttributeError):
                continue
            for parameter, spec in parameters.items():
                required = isinstance(spec, dict) and spec.get("required") is True
                if required and not _present(context, parameter):
                    self.error(fixture.path, None, f'component {name} requires "{parameter}", which '
                                                   "this message's context does not have")


def _colour_line(text: str, name: str, dark: bool) -> int | None:
    """The line of a colour in brand.json: in "dark" for the dark scheme (its "dark" line when
    derived, its "colors" line when the brand has no "dark" at all)."""
    if not dark:
        return line_of(text, f'"{name}"')
    start = text.find('"dark"')
    if start < 0:
        return line_of(text, '"colors"')
    found = text.find(f'"{name}"', start)
    return text.count("\n", 0, found if found >= 0 else start) + 1


def _present(context: dict[str, Any], dotted: str) -> bool:
    """The path is in the context (a None on the way means the part is absent, which the
    templates test for; only a missing key is an error)."""
    value: Any = context
    for part in dotted.split("."):
        if value is None:
            return True
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


# The allow-list of known findings

def load_allowed(path: Path = ALLOW_FILE) -> list[tuple[str, str]]:
    """`path: message prefix` lines; `#` starts a comment."""
    if not path.is_file():
        return []
    allowed = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line and ": " in line:
            where, prefix = line.split(": ", 1)
            allowed.append((where.strip(), prefix.strip()))
    return allowed


def is_allowed(finding: Finding, allowed: Iterable[tuple[str, str]]) -> bool:
    where = f"{finding.path}:{finding.line}" if finding.line else finding.path
    return any((where == path or finding.path == path) and finding.message.startswith(prefix)
               for path, prefix in allowed)

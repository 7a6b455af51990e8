"""A Jinja loader whose templates are MJML compiled to HTML once, Jinja tags and all.

`email/<type>/email.mjml` names `templates/<type>/email.mjml`; its `<mj-include path=
"components/<name>/email.mjml">` are resolved from the components folder. mjml-python
compiles the whole tree once; Jinja caches the result and asks `uptodate` (a stat of each
file involved) before reuse, so a designer's edit shows on the next render, and a request
otherwise runs only Jinja. Jinja stays out of the widths and heights MJML computes with, and
section-level `{% if %}`/`{% for %}` sit inside `<mj-raw>`, so compiling before or after
Jinja gives the same HTML (tests/templating/test_templating.py checks that over every fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mjml
from jinja2 import BaseLoader, Environment, TemplateNotFound

# No web fonts: MJML would otherwise link Google Fonts for Roboto, and every customer who
# opens the email would tell Google so. The font stacks name system fonts only.
MJML_OPTIONS = {"disable_comments": True, "fonts": {}}


class MjmlCompileError(Exception):
    """mjml-python refused a file; carries the file for the message."""


class MjmlLoader(BaseLoader):
    def __init__(self, templates_dir: Path, components_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.components_dir = components_dir

    def resolve(self, path: str) -> Path:
        """A path as written in an `mj-include`, or a template name, to a file."""
        path = path.lstrip("./")
        if path.startswith("components/"):
            base, relative = self.components_dir, path.removeprefix("components/")
        else:
            base, relative = self.templates_dir, path.removeprefix("templates/")
        resolved = (base / relative).resolve()
        if not resolved.is_relative_to(base.resolve()) or not resolved.is_file():
            raise TemplateNotFound(path)
        return resolved

    def compile(self, template: str) -> tuple[str, list[Path]]:
        """Compile one MJML template; answer the HTML and every file it read."""
        main = self.resolve(template)
        files = [main]

        def include(path: str) -> str:
            included = self.resolve(path)
            files.append(included)
            return included.read_text(encoding="utf-8")

        try:
            html = mjml.mjml2html(
                main.read_text(encoding="utf-8"), include_loader=include, **MJML_OPTIONS
            )
        except TemplateNotFound:
            raise
        except Exception as exc:
            raise MjmlCompileError(f"{main}: {exc}") from exc
        return html, files

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        html, files = self.compile(template)
        mtimes = {path: path.stat().st_mtime for path in files}

        def uptodate() -> bool:
            try:
                return all(path.stat().st_mtime == mtime for path, mtime in mtimes.items())
            except OSError:
                return False

        return html, str(files[0]), uptodate

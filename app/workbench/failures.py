"""A render error as a designer needs it: the template file, the line, the message, the code.

Jinja says where a syntax error is (`TemplateSyntaxError.filename/.lineno`); for an error
while rendering (an undefined variable, a bad filter) the template frames of the traceback
name the file and line. An email's MJML is compiled to HTML before Jinja runs, so its line
numbers count lines of the compiled HTML: the Jinja expression on that line is looked up in
the MJML files the email is made of, which gives the line the designer wrote. mjml-python
names no line at all; the structural checks of `mjml_check.py` find it instead.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import TemplateSyntaxError, UndefinedError

from app.config import ROOT
from app.problems import Problem
from app.templating import MjmlCompileError, environment
from app.workbench import mjml_check

# Templates are files with these endings; other traceback frames are Python.
TEMPLATE_SUFFIXES = (".html", ".mjml", ".txt", ".css")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_UNDEFINED_NAME = re.compile(r"has no attribute '([^']+)'|^'([^']+)' is undefined")


@dataclass
class Failure:
    """What went wrong in one view of a preview, lint run or snapshot."""

    view: str
    kind: str
    message: str
    file: str | None = None
    line: int | None = None
    note: str | None = None
    # (line number, text, is the failing line) around `line`.
    excerpt: list[tuple[int, str, bool]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or "(unknown file)"

    def summary(self) -> str:
        return f"{self.where}: {self.kind}: {self.message}"


def display_path(path: str | Path) -> str:
    """A path relative to the repository (or the working folder) when it is inside one."""
    resolved = Path(path).resolve()
    for base in (ROOT, Path.cwd()):
        if resolved.is_relative_to(base):
            return resolved.relative_to(base).as_posix()
    return str(path)


def excerpt(path: Path, line: int, around: int = 3) -> list[tuple[int, str, bool]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    first, last = max(1, line - around), min(len(lines), line + around)
    return [(number, lines[number - 1][:240], number == line) for number in range(first, last + 1)]


def failure_from(exc: BaseException, view: str, fixture_path: Path | None = None) -> Failure:
    """Name the file and line of any exception a render can raise."""
    kind = type(exc).__name__
    if isinstance(exc, TemplateSyntaxError):
        filename = exc.filename or exc.name
        if filename and filename.endswith(".mjml"):
            return _mjml_syntax_failure(exc, view, Path(filename))
        return _located(view, kind, exc.message or str(exc), Path(filename) if filename else None,
                        exc.lineno)
    if isinstance(exc, MjmlCompileError):
        return _mjml_failure(exc, view)
    if isinstance(exc, Problem):
        failure = Failure(view, exc.title, exc.detail,
                          file=display_path(fixture_path) if fixture_path else None)
        failure.details = [f"{error.path}: {error.message}" for error in exc.errors]
        return failure
    frame = _template_frame(exc)
    if frame is None:
        return Failure(view, kind, str(exc) or kind)
    path, line = frame
    if path.suffix == ".mjml" and not isinstance(exc, TemplateSyntaxError):
        return _compiled_mjml_failure(exc, view, kind, path, line)
    return _located(view, kind, str(exc), path, line)


def _located(view: str, kind: str, message: str, path: Path | None, line: int | None) -> Failure:
    failure = Failure(view, kind, message, file=display_path(path) if path else None, line=line)
    if path is not None and line:
        failure.excerpt = excerpt(path, line)
    return failure


def _template_frame(exc: BaseException) -> tuple[Path, int] | None:
    """The innermost traceback frame that is template code (Jinja rewrites them so)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(TEMPLATE_SUFFIXES) and frame.lineno and Path(frame.filename).is_file():
            found = (Path(frame.filename), frame.lineno)
    return found


def _compiled_mjml_failure(exc: BaseException, view: str, kind: str, path: Path, line: int) -> Failure:
    """Map a line of the compiled email back to the MJML file and line it came from."""
    loader = environment().loader.mapping["email"]  # type: ignore[union-attr]
    try:
        name = path.resolve().relative_to(Path(loader.templates_dir).resolve()).as_posix()
        html, files = loader.compile(name)
    except Exception:  # only a better line is lost
        return _located(view, kind, str(exc), path, None)
    compiled_lines = html.splitlines()
    compiled = compiled_lines[line - 1] if 0 < line <= len(compiled_lines) else ""
    snippets = _JINJA.findall(compiled)
    match = _UNDEFINED_NAME.search(str(exc)) if isinstance(exc, UndefinedError) else None
    if match:
        word = match.group(1) or match.group(2)
        named = [s for s in snippets if re.search(rf"\b{re.escape(word)}\b", s)]
        snippets = named or snippets
    for snippet in snippets:
        for source in files:
            for number, text in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
                if snippet in text:
                    failure = _located(view, kind, str(exc), source, number)
                    failure.note = f"line {line} of the email compiled from {display_path(path)}"
                    return failure
    failure = _located(view, kind, str(exc), path, None)
    failure.note = f"line {line} of the compiled email: {compiled.strip()[:200]}"
    return failure


def _mjml_syntax_failure(exc: TemplateSyntaxError, view: str, path: Path) -> Failure:
    """Jinja met the error in the compiled email; each MJML file parses on its own (blocks
    open and close within one file), so parsing them one by one finds the file and line."""
    env = environment()
    loader = env.loader.mapping["email"]  # type: ignore[union-attr]
    try:
        name = path.resolve().relative_to(Path(loader.templates_dir).resolve()).as_posix()
        files = loader.compile(name)[1]
    except Exception:  # the compile itself fails: say what Jinja said
        files = [path]
    for source in files:
        try:
            # compile, not parse: an unknown filter or test is found when compiling.
            env.compile(source.read_text(encoding="utf-8"), filename=str(source))
        except TemplateSyntaxError as inner:
            return _located(view, "TemplateSyntaxError", inner.message or str(inner), source, inner.lineno)
    failure = _located(view, "TemplateSyntaxError", exc.message or str(exc), path, None)
    failure.note = f"line {exc.lineno} of the email compiled from {display_path(path)}"
    return failure


def _mjml_failure(exc: MjmlCompileError, view: str) -> Failure:
    """mjml-python names the file but no line: the structural checks find the line."""
    message = str(exc)
    path_text, _, reason = message.partition(": ")
    path = Path(path_text)
    if not path.is_file():
        return Failure(view, "MJML error", message)
    loader = environment().loader.mapping["email"]  # type: ignore[union-attr]
    for finding in mjml_check.check_tree(path, loader.resolve, mjml_check.standalone_parent(path)):
        if finding.severity == "error":
            return _located(view, "MJML error", f"{finding.message} (mjml-python: {reason})",
                            finding.path, finding.line)
    return _located(view, "MJML error", reason or message, path, None)

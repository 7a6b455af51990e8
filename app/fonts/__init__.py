"""The one type family of every message: Liberation Sans 2.1.5, regular and bold, shipped in
this folder (SIL Open Font License 1.1, see README.md), with every glyph en, nl, fr and de use.

- The web page and the PDF load it with @font-face (templates/base/document.css, print.css) from
  `/assets/fonts/<file>` under PUBLIC_BASE_URL: served by the service itself (app/http/assets.py),
  never a CDN, and handed to WeasyPrint by its deny-by-default fetcher (app/channels/layout.py,
  through ArtifactStore.own_file), which reads these files and nothing else a URL could name.
- The charts' PNGs are drawn with these files (app/visuals/charts.py).
- The email names the family first, then fonts with its metrics (`STACK`): a mail client does
  not load web fonts, and Arial or Helvetica wrap a line where Liberation Sans does.
- The snapshot browser sees only these files (app/workbench/fonts.conf).
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent
FAMILY = "Liberation Sans"
# The faces shipped, by CSS font-weight; an italic is slanted by the browser or WeasyPrint.
FACES = {400: "LiberationSans-Regular.ttf", 700: "LiberationSans-Bold.ttf"}
CONTENT_TYPE = "font/ttf"
# The family, then fonts with its metrics that readers' machines have (Arimo: ChromeOS and
# Android; Arial: Windows, macOS, iOS; Helvetica: macOS). Single quotes: the stack is written
# into HTML style attributes as well as stylesheets.
STACK = f"'{FAMILY}', Arimo, Arial, Helvetica, sans-serif"
# Where the service serves the faces, under PUBLIC_BASE_URL.
URL_PATH = "/assets/fonts/"


def faces(public_base_url: str) -> list[dict[str, object]]:
    """Each face as a stylesheet's @font-face names it: its weight and absolute URL."""
    return [{"weight": weight, "url": f"{public_base_url}{URL_PATH}{name}"} for weight, name in FACES.items()]


def face(name: str) -> Path | None:
    """The file of a shipped face by its file name, or None for any other name."""
    return FOLDER / name if name in FACES.values() else None


def face_at(path: str) -> Path | None:
    """The file of a shipped face by its URL's path (`/assets/fonts/<file>`), or None."""
    return face(path.removeprefix(URL_PATH)) if path.startswith(URL_PATH) else None


def face_file(bold: bool = False) -> Path:
    return FOLDER / FACES[700 if bold else 400]

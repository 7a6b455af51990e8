"""Checks on what a template made: the email's and the web page's HTML as the customer gets it.

- every `<img>` has alt text (an empty alt is allowed only for decoration: a warning);
- every link is an absolute https URL, a `mailto:` or `tel:`, or one of the service's own
  (under PUBLIC_BASE_URL, which is plain http on a developer's machine);
- nothing is fetched from outside when the message is opened (images, stylesheets, fonts,
  scripts, CSS `url()`): only the service's own assets, so opening tells no third party.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")


@dataclass(frozen=True)
class Issue:
    severity: str
    message: str
    url: str | None = None  # the URL it is about, to find where it was written


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str | None]] = []
        self.links: list[tuple[dict[str, str | None], list[str]]] = []
        self.resources: list[tuple[str, str]] = []
        self.styles: list[str] = []
        self._open_links: list[list[str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values)
            if values.get("src"):
                self.resources.append(("img", values["src"] or ""))
        elif tag == "a" and "href" in values:
            text: list[str] = []
            self.links.append((values, text))
            self._open_links.append(text)
        elif tag == "link" and values.get("href"):
            self.resources.append((f"link rel={values.get('rel') or ''}", values["href"] or ""))
        elif tag in {"script", "source", "video", "audio", "iframe", "embed", "object"}:
            url = values.get("src") or values.get("data") or values.get("srcset")
            if url:
                self.resources.append((tag, url))
        elif tag == "style":
            self._in_style = True
        if values.get("style"):
            self.styles.append(values["style"] or "")
        if values.get("background"):
            self.resources.append((f"{tag} background", values["background"] or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open_links:
            self._open_links.pop()
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        for text in self._open_links:
            text.append(data)


def _own(url: str, public_base_url: str) -> bool:
    return url == public_base_url or url.startswith(public_base_url + "/")


def check_html(html: str, view: str, public_base_url: str) -> list[Issue]:
    """Problems in one rendered HTML document; `view` ("email", "web") starts each message."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    issues = []
    for image in collector.images:
        src = (image.get("src") or "")[:80]
        if "alt" not in image:
            issues.append(Issue("error", f"{view}: <img src={src}> has no alt text", image.get("src")))
        elif not (image.get("alt") or "").strip():
            issues.append(Issue("warning", f"{view}: <img src={src}> has an empty alt: right only "
                                           "for a picture that says nothing", image.get("src")))
    for attrs, text in collector.links:
        href = (attrs.get("href") or "").strip()
        label = " ".join("".join(text).split())[:40]
        if href.startswith(("https://", "mailto:", "tel:")) or _own(href, public_base_url):
            continue
        reason = "is empty" if not href else f'is "{href[:100]}", not an absolute https URL'
        issues.append(Issue("error", f'{view}: the link "{label}" {reason}', href or None))
    resources = list(collector.resources)
    for style in collector.styles:
        for match in _CSS_URL.finditer(style):
            resources.append(("CSS", match.group(2) or match.group(4)))
    reported: set[str] = set()
    for kind, url in resources:
        url = url.strip()
        if _own(url, public_base_url) or (url.startswith("data:") and view != "email") or url in reported:
            continue
        reported.add(url)
        if url.startswith("data:"):
            issues.append(Issue("error", f"{view}: {kind} is a data: URL, which Gmail and Outlook "
                                         "do not show; serve it from /assets/", None))
        else:
            issues.append(Issue("error", f"{view}: {kind} loads {url[:100]} from outside this "
                                         "service when opened (it tells that host who read it)", url))
    return issues

"""PDF: the document face of the message, laid out by WeasyPrint for print (A4).

WeasyPrint fetches through `OwnAssetsFetcher`, deny by default: it serves only our own
content-addressed assets from disk and refuses every other URL (`file:`, `http(s):` to
anywhere, `data:`), so nothing a request says can make us read a file or call a host.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.channels import ChannelOutput, File
from app.problems import InvalidRequest
from app.store.artifacts import ArtifactStore
from app.templating import render as render_template

if TYPE_CHECKING:
    from app.pipeline.compose import Composed
    from app.pipeline.enrich import Enriched

NAME = "pdf"
log = logging.getLogger(__name__)

_ASSET = re.compile(r"^/assets/([0-9a-f]{64})\.png$")


class FetchRefused(ValueError):
    pass


class OwnAssetsFetcher(URLFetcher):
    def __init__(self, assets: ArtifactStore, public_base_url: str) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self.assets = assets
        self.public_base_url = public_base_url

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if url.startswith(self.public_base_url + "/"):
            match = _ASSET.match(url.removeprefix(self.public_base_url))
            if match:
                path = self.assets.asset_path(match.group(1), "png")
                if path.is_file():
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": "image/png"})
        log.warning("refused to fetch %s", url[:200])
        raise FetchRefused(f"Touchpoint fetches only its own assets, not {url[:200]}")


def render_document(html: str, fetcher: OwnAssetsFetcher) -> tuple[bytes, int]:
    document = HTML(string=html, base_url=fetcher.public_base_url + "/", url_fetcher=fetcher).render()
    return document.write_pdf(), len(document.pages)


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    from flask import current_app

    from app.store import artifacts

    html = render_template(f"templates/{message.type}/document.html",
                           {**message.context, "channel": "pdf"})
    data, pages = render_document(html, OwnAssetsFetcher(artifacts(), enriched.public_base_url))
    limit = current_app.config["MAX_PDF_PAGES"]
    if pages > limit:
        raise InvalidRequest.at("data", f"the PDF would have {pages} pages; the limit is {limit}")
    return ChannelOutput(
        {"url": enriched.links["api_pdf"], "status": "ready", "pages": pages, "bytes": len(data)},
        files=[File("document.pdf", "application/pdf", data)],
    )

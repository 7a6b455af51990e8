"""Helpers for the browser tests: a live server for an app, and measurements taken in the page.

The measurements run as JavaScript inside Chromium and come back as plain lists of problems,
each naming the element (a short CSS path plus its text) so a failure says what to fix.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


class _QuietHandler(WSGIRequestHandler):
    """No access log: a test run prints only what went wrong."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def bound_server() -> Iterator[BaseWSGIServer]:
    """A threaded server on a free port of 127.0.0.1, serving whatever `server.app` is set to.

    The port is known before the app exists, so the app can be created with its own address
    as PUBLIC_BASE_URL: then the absolute image URLs in emails and pages load from it.
    """
    server = make_server("127.0.0.1", 0, _not_ready, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"app not set yet"]


def serve(server: BaseWSGIServer, app: Flask) -> str:
    server.app = app
    return f"http://127.0.0.1:{server.server_port}"


# A short, readable name for an element: `main > nav.c-buttons > a.c-button:nth-of-type(2) "Pay"`.
_DESCRIBE_JS = """
window.__tpDescribe = (el) => {
  const parts = [];
  for (let node = el; node && node.nodeType === 1 && parts.length < 5; node = node.parentElement) {
    let part = node.localName;
    if (node.id) { parts.unshift(part + '#' + node.id); break; }
    const classes = [...node.classList].filter((c) => !c.startsWith('mj-outlook')).slice(0, 2);
    if (classes.length) part += '.' + classes.join('.');
    const parent = node.parentElement;
    if (parent) {
      const same = [...parent.children].filter((c) => c.localName === node.localName);
      if (same.length > 1) part += ':nth-of-type(' + (same.indexOf(node) + 1) + ')';
    }
    parts.unshift(part);
    if (node.localName === 'body') break;
  }
  const text = (el.innerText || el.getAttribute('alt') || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  return parts.join(' > ') + (text ? ' "' + text + '"' : '');
};
window.__tpVisible = (el) => {
  const rect = el.getBoundingClientRect();
  if (rect.width === 0 || rect.height === 0) return false;
  return el.checkVisibility({opacityProperty: true, visibilityProperty: true});
};
"""


def _install(page: Page) -> None:
    # Wrapped in a function: a bare script whose value is a function would be called by Playwright.
    page.evaluate("() => {" + _DESCRIBE_JS + "}")


def horizontal_overflow(page: Page, width: int) -> list[str]:
    """The page scrolls sideways, or visible elements reach past `width`: outermost ones only."""
    _install(page)
    return page.evaluate(
        """(width) => {
          const problems = [];
          const scrollWidth = document.documentElement.scrollWidth;
          if (scrollWidth > width) problems.push(`document scrollWidth ${scrollWidth} > ${width}`);
          const over = (el) => __tpVisible(el) && el.getBoundingClientRect().right > width + 1;
          for (const el of document.body.querySelectorAll('*')) {
            if (!over(el)) continue;
            // Name the element that starts the overflow, not each of its ancestors or children.
            if (el.parentElement && el.parentElement !== document.body && over(el.parentElement)) continue;
            const rect = el.getBoundingClientRect();
            problems.push(`${__tpDescribe(el)}: right edge ${rect.right.toFixed(1)} px `
                          + `(left ${rect.left.toFixed(1)}, width ${rect.width.toFixed(1)}) > ${width}`);
          }
          return problems;
        }""",
        width,
    )


def broken_images(page: Page) -> list[str]:
    """Images that did not load. Lazy ones are scrolled to first, so they get their chance."""
    _install(page)
    return page.evaluate(
        """async () => {
          const images = [...document.images];
          for (const img of images) {
            if (!img.complete) {
              img.scrollIntoView();
              await Promise.race([img.decode().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
            }
          }
          window.scrollTo(0, 0);
          return images.filter((img) => !(img.complete && img.naturalWidth > 0))
                       .map((img) => `${__tpDescribe(img)} src=${img.currentSrc || img.src}`.slice(0, 200));
        }"""
    )


def small_text(page: Page, minimum: float) -> list[str]:
    """Visible elements that hold text of their own set below `minimum` px."""
    _install(page)
    return page.evaluate(
        """(minimum) => {
          const problems = [];
          for (const el of document.body.querySelectorAll('*')) {
            const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
            if (!ownText || !__tpVisible(el)) continue;
            const size = parseFloat(getComputedStyle(el).fontSize);
            if (size < minimum) problems.push(`${__tpDescribe(el)}: font-size ${size} px < ${minimum}`);
          }
          return problems;
        }""",
        minimum,
    )


def short_targets(page: Page, selector: str, minimum: float) -> list[str]:
    """Visible tap targets matching `selector` shorter than `minimum` px."""
    _install(page)
    return page.evaluate(
        """([selector, minimum]) => {
          const problems = [];
          for (const el of document.querySelectorAll(selector)) {
            if (!__tpVisible(el)) continue;
            const rect = el.getBoundingClientRect();
            if (rect.height < minimum) {
              problems.push(`${__tpDescribe(el)}: ${rect.height.toFixed(1)} px tall `
                            + `(${rect.width.toFixed(1)} wide) < ${minimum}`);
            }
          }
          return problems;
        }""",
        [selector, minimum],
    )


def count(page: Page, selector: str) -> int:
    return page.evaluate("(selector) => document.querySelectorAll(selector).length", selector)


# axe-core: WCAG 2.0-2.2 A and AA rules and its best practices; a serious or critical finding fails.
AXE_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                                    "best-practice"]},
             "resultTypes": ["violations"], "iframes": False}
AXE_FAILING = {"serious", "critical"}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every finding of axe-core's rules on the page."""
    return Axe().run(page, options=AXE_RULES).response["violations"]


def failing(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [violation for violation in violations if violation["impact"] in AXE_FAILING]


def describe_axe(violations: list[dict[str, Any]]) -> str:
    """One line per finding, then up to five elements it names, for a failure message."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']} "
                     f"({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            summary = node["failureSummary"].splitlines()[-1].strip()
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)

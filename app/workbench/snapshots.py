"""Visual regression: every fixture drawn to PNG and compared with the approved pictures.

Per fixture, six views: the email at 375 px and at 600 px and the web page at 320 px,
the email at 375 px and the web page at 320 px again in the dark colour scheme (a view named
`…-dark`), full length, drawn by headless Chromium (one browser for the whole run); and the PDF's
first page, drawn by poppler's pdftoppm at 60 dpi. For the fixtures named `preferences-<lang>`,
four more: the customer's preference centre, the unsubscribe page, the confirmation with its
undo, and the page after the undo, at 320 px. Renders are deterministic: a fixed
clock (`FIXED_NOW`), a fixed message id and signing time (`scratch.deterministic`), and the
page may fetch nothing but the service's own assets, served from ARTIFACT_DIR.

Fonts are pinned, so a picture does not depend on the fonts a machine has. Chromium reads
only FONTS_CONF (its FONTCONFIG_FILE), which knows one font, the messages' type family shipped
in app/fonts/, and makes every family that font; the web page's @font-face loads the same
files (served here from app/fonts). The PDF embeds them too (its @font-face, through its
fetcher) and pdftoppm draws what is embedded, so no view depends on a system font.

Pictures are kept small: one CSS pixel per pixel, reduced to a 64-colour palette and
PNG-optimised (about 150 KB a fixture). A pixel counts as changed when a
colour channel moved by more than PIXEL_TOLERANCE (of 255); a view counts as changed when
more than CHANGED_PIXELS pixels did, so a stray anti-aliased edge does not fail a run.

The approved pictures live in tests/snapshots/<type>/<name>/<view>.png. The report
(var/snapshots/report.html by default) shows before, after and the difference of each view
that changed; `flask --app app snapshots --approve` accepts what is there now.
"""

from __future__ import annotations

import fnmatch
import io
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from PIL import Image, ImageChops

from app.config import ROOT, AppFactory
from app.store.artifacts import ArtifactStore
from app.templating import render as render_template
from app.workbench.customer_pages import page_html
from app.workbench.failures import Failure, display_path, failure_from
from app.workbench.scratch import (
    FIXED_NOW,
    Fixture,
    Scratch,
    deterministic,
    file_of,
    list_fixtures,
    pdf_page_images,
    render_fixture,
    render_pdf,
    scratch_app,
)

if TYPE_CHECKING:  # Playwright is a development dependency: its types only, for the checker
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route

CHROMIUM = "/usr/bin/chromium"
# The only fonts the browser sees, whatever the machine has (see the module docstring).
FONTS_CONF = Path(__file__).with_name("fonts.conf")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--font-render-hinting=none", "--disable-lcd-text"]
# view name -> (channel, width in CSS pixels)
VIEWS: dict[str, tuple[str, int]] = {
    "email-375": ("email", 375),
    "email-600": ("email", 600),
    "web-320": ("web", 320),
    "email-375-dark": ("email", 375),
    "web-320-dark": ("web", 320),
    "pdf-1": ("pdf", 0),
    # The customer's pages (app/workbench/customer_pages.py), for the fixtures PAGE_FIXTURES names.
    "preferences-320": ("page:preferences", 320),
    "unsubscribe-320": ("page:unsubscribe", 320),
    "unsubscribed-320": ("page:unsubscribed", 320),
    "undone-320": ("page:undone", 320),
}
# The fixtures whose customer's preference centre and unsubscribe pages are drawn: one per
# locale (fixtures/invoice/preferences-<language>.json), not every fixture.
PAGE_FIXTURES = "*/preferences-*"
PDF_DPI = 60
PALETTE = 64
# Per colour channel (of 255): the 64-colour palette is chosen per picture, so the same
# drawing can land on a neighbouring colour; at 0, a third of a page differs run to run.
PIXEL_TOLERANCE = 48
# Per view: with the fonts pinned, every browser view matches with 0 pixels over the
# tolerance (also on a machine with other fonts and hinting) and a PDF page with at most 5.
# 24 is under 0.01 % of the smallest view (a PDF page, 497 x 702).
CHANGED_PIXELS = 24


@dataclass
class Change:
    fixture: str
    view: str
    status: str  # "changed", "new", "missing", "failed"
    pixels: int = 0
    total: int = 0
    before: Path | None = None
    after: Path | None = None
    diff: Path | None = None
    sizes: str = ""
    failure: Failure | None = None

    def describe(self) -> str:
        if self.status == "changed":
            share = 100 * self.pixels / self.total if self.total else 0
            return f"changed {self.fixture} {self.view}: {self.pixels} pixels ({share:.2f} %){self.sizes}"
        if self.status == "failed" and self.failure:
            return f"failed  {self.fixture} {self.view}: {self.failure.summary()}"
        return f"{self.status:7} {self.fixture} {self.view}"


@dataclass
class Report:
    pictures: int = 0
    changed: list[Change] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    report_path: Path | None = None


# Drawing

class Camera:
    """One headless Chromium that draws HTML at a width; it may fetch only our own assets."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        # By width for the light scheme, by (width, "dark") for the dark one.
        self.contexts: dict[int | tuple[int, str], BrowserContext] = {}
        self.pages: dict[int | tuple[int, str], Page] = {}
        self.assets: ArtifactStore | None = None
        self.public_base_url = ""

    def serve_from(self, app: Flask) -> None:
        """Pages may load the assets of this app (and nothing else)."""
        self.assets = app.extensions["touchpoint.artifacts"]
        self.public_base_url = app.config["PUBLIC_BASE_URL"]

    def _serve(self, route: Route) -> None:
        found = self._own_file(route.request.url)
        if found is None:
            route.abort()
        else:
            route.fulfill(status=200, content_type=found[0], body=found[1].read_bytes())

    def _own_file(self, url: str) -> tuple[str, Path] | None:
        """The content type and file of one of our assets or fonts at `url`, if it is one."""
        if self.assets is None or not url.startswith(self.public_base_url + "/"):
            return None
        return self.assets.own_file(url.removeprefix(self.public_base_url))

    def shoot(self, html: str, width: int, scheme: str = "light") -> Image.Image:
        """The whole page, `width` CSS pixels wide (wider if the page overflows), full length,
        in the `scheme` ("light" or "dark") colour scheme."""
        key: int | tuple[int, str] = width if scheme == "light" else (width, scheme)
        if key not in self.pages:
            context = self.browser.new_context(viewport={"width": width, "height": 800},
                                               device_scale_factor=1, color_scheme=scheme,
                                               reduced_motion="reduce", java_script_enabled=False)
            context.route("**/*", self._serve)
            self.contexts[key] = context
            self.pages[key] = context.new_page()
        page = self.pages[key]
        page.set_content(html, wait_until="load")
        png = page.screenshot(full_page=True, animations="disabled", caret="hide")
        return Image.open(io.BytesIO(png))

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


@contextmanager
def open_camera(playwright: Playwright | None = None) -> Iterator[Camera]:
    """A camera on a Chromium of its own (its fonts are fixed at launch: FONTS_CONF), launched
    from `playwright` when one is running already (its sync API allows one per thread, so the
    test suite passes its own), else from a Playwright started here."""
    if playwright is None:
        # Playwright is a development dependency: imported when a camera opens, not with the app.
        from playwright.sync_api import sync_playwright

        with sync_playwright() as started, open_camera(started) as camera:
            yield camera
        return
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         env={**os.environ, "FONTCONFIG_FILE": str(FONTS_CONF)})
    camera = Camera(browser)
    try:
        yield camera
    finally:
        camera.close()
        browser.close()


def normalise(image: Image.Image) -> Image.Image:
    """What is stored and compared: RGB reduced to a 64-colour palette (small files)."""
    return image.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.FASTOCTREE,
                                         dither=Image.Dither.NONE).convert("RGB")


def draw_fixture(fixture: Fixture, camera: Camera, views: list[str],
                 pool: ThreadPoolExecutor | None = None) -> dict[str, Image.Image | Failure]:
    """Each view of one fixture as a picture, or the failure that stopped it. The PDF (the
    slow part, in Python) is drawn on `pool` while Chromium draws the others."""
    with deterministic():
        scratch = render_fixture(fixture, now=FIXED_NOW)
    result: dict[str, Image.Image | Failure] = {}
    pending: dict[str, Future[Image.Image | Failure]] = {}
    for view in views:
        channel, width = VIEWS[view]
        failure = scratch.failures.get("fixture") or scratch.failures.get(channel)
        if failure is not None:
            result[view] = failure
        elif channel.startswith("page:"):
            if scratch.enriched is None or not fnmatch.fnmatch(fixture.name, PAGE_FIXTURES):
                continue
            try:
                result[view] = normalise(camera.shoot(page_html(scratch, channel[5:]), width))
            except Exception as exc:  # reported as this view's failure
                result[view] = failure_from(exc, "web", fixture.path)
        elif scratch.enriched is None or channel not in scratch.enriched.channels:
            continue  # this fixture has no such channel: nothing to compare
        elif channel == "pdf":
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            pending[view] = (pool.submit(_pdf_picture, app, scratch) if pool
                             else _done(_pdf_picture(app, scratch)))
        else:
            html = (scratch.outputs["email"].output["html"] if channel == "email"
                    else (file_of(scratch.outputs["web"], "page.html") or b"").decode())
            try:
                scheme = "dark" if view.endswith("-dark") else "light"
                result[view] = normalise(camera.shoot(html, width, scheme))
            except Exception as exc:  # reported as this view's failure
                result[view] = failure_from(exc, channel, fixture.path)
    for view, future in pending.items():
        result[view] = future.result()
    return {view: result[view] for view in views if view in result}


def _pdf_picture(app: Flask, scratch: Scratch) -> Image.Image | Failure:
    with app.app_context():
        try:
            pdf = render_pdf(scratch)
            return normalise(Image.open(io.BytesIO(pdf_page_images(pdf, dpi=PDF_DPI, last=1)[0])))
        except Exception as exc:
            return failure_from(exc, "pdf", scratch.fixture.path)


def _done(value: Image.Image | Failure) -> Future[Image.Image | Failure]:
    future: Future[Image.Image | Failure] = Future()
    future.set_result(value)
    return future


# Comparing

def compare(before: Image.Image, after: Image.Image) -> tuple[int, int, Image.Image]:
    """Changed pixels, all pixels, and a picture of the change: `after` faded, each changed
    pixel red. Pictures of different sizes are compared on a canvas of the larger size."""
    width, height = max(before.width, after.width), max(before.height, after.height)

    def padded(image: Image.Image) -> Image.Image:
        canvas = Image.new("RGB", (width, height), (255, 255, 255))
        canvas.paste(image.convert("RGB"), (0, 0))
        return canvas

    old, new = padded(before), padded(after)
    difference = ImageChops.difference(old, new)
    channels = difference.split()
    worst = ImageChops.lighter(ImageChops.lighter(channels[0], channels[1]), channels[2])
    mask = worst.point(lambda value: 255 if value > PIXEL_TOLERANCE else 0)
    changed = mask.histogram()[255]
    faded = Image.blend(new, Image.new("RGB", new.size, (255, 255, 255)), 0.75)
    faded.paste(Image.new("RGB", new.size, (230, 0, 0)), (0, 0), mask)
    return changed, width * height, faded


def _save(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.FASTOCTREE,
                                  dither=Image.Dither.NONE).save(path, format="PNG", optimize=True)
    return path


def run_snapshots(config: Mapping[str, Any], create_app: AppFactory, pattern: str = "*",
                  names: list[str] | None = None, approved_dir: Path | None = None,
                  out_dir: Path | None = None, approve: bool = False, views: list[str] | None = None,
                  camera: Camera | None = None, echo: Callable[[str], Any] = print) -> Report:
    """Draw, compare, report; with `approve`, store what was drawn as the approved pictures.

    Renders in a scratch app (made by `create_app`) on the designers' folders of `config`
    (scratch.scratch_app), so a developer's archive and settings change nothing. `names`
    (fixture names) or `pattern` (a glob on them) choose the fixtures; `views` the views (all
    of VIEWS by default)."""
    approved_dir = approved_dir or ROOT / "tests" / "snapshots"
    out_dir = out_dir or ROOT / "var" / "snapshots"
    views = views or list(VIEWS)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    report = Report()
    drawn: set[Path] = set()
    with scratch_app(config, create_app) as app, _camera(camera) as active, \
            ThreadPoolExecutor(max_workers=1) as pool:
        active.serve_from(app)
        fixtures = [f for f in list_fixtures(Path(app.config["FIXTURES_DIR"]))
                    if (f.name in names if names is not None else fnmatch.fnmatch(f.name, pattern))]
        for fixture in fixtures:
            for view, result in draw_fixture(fixture, active, views, pool).items():
                approved = approved_dir / fixture.name / f"{view}.png"
                drawn.add(approved)
                report.pictures += 1
                change = _check(fixture.name, view, result, approved, out_dir, approve, report)
                if change is not None:
                    report.changed.append(change)
                    echo(change.describe())
        if pattern == "*" and names is None and views == list(VIEWS):
            _stale(approved_dir, drawn, out_dir, approve, report, echo)
        report.report_path = _write_report(report, out_dir, approved_dir)
    for line in report.approved:
        echo(line)
    counts = {status: sum(c.status == status for c in report.changed)
              for status in ("changed", "new", "missing", "failed")}
    echo(f"snapshots: {report.pictures} pictures; " + ", ".join(f"{n} {s}" for s, n in counts.items())
         + (f"; {len(report.approved)} approved" if approve else "") + f"; report: {report.report_path}")
    return report


def _stale(approved_dir: Path, drawn: set[Path], out_dir: Path, approve: bool, report: Report,
           echo: Callable[[str], Any]) -> None:
    """Approved pictures of fixtures or views that are no more."""
    for stale in sorted(approved_dir.glob("*/*/*.png")):
        if stale in drawn:
            continue
        name = stale.parent.relative_to(approved_dir).as_posix()
        if approve:
            stale.unlink()
            report.approved.append(f"removed {display_path(stale)}")
        else:
            before = _copy(stale, out_dir, name, stale.stem + ".before")
            change = Change(name, stale.stem, "missing", before=before)
            report.changed.append(change)
            echo(change.describe())


@contextmanager
def _camera(camera: Camera | None) -> Iterator[Camera]:
    if camera is not None:
        yield camera
    else:
        with open_camera() as opened:
            yield opened


def _copy(source: Path, out_dir: Path, name: str, stem: str) -> Path:
    target = out_dir / name / f"{stem}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _check(name: str, view: str, result: Image.Image | Failure, approved: Path, out_dir: Path,
           approve: bool, report: Report) -> Change | None:
    if isinstance(result, Failure):
        return Change(name, view, "failed", failure=result)
    if not approved.is_file():
        after = _save(result, out_dir / name / f"{view}.after.png")
        if approve:
            _save(result, approved)
            report.approved.append(f"approved {display_path(approved)} (new)")
            return None
        return Change(name, view, "new", after=after)
    with Image.open(approved) as stored:
        before = stored.convert("RGB")
    changed, total, diff = compare(before, result)
    resized = before.size != result.size
    if changed <= CHANGED_PIXELS and not resized:
        return None
    if approve:
        _save(result, approved)
        report.approved.append(f"approved {display_path(approved)}")
        return None
    sizes = f"; size {before.width}x{before.height} -> {result.width}x{result.height}" if resized else ""
    return Change(name, view, "changed", pixels=changed, total=total,
                  before=_save(before, out_dir / name / f"{view}.before.png"),
                  after=_save(result, out_dir / name / f"{view}.after.png"),
                  diff=_save(diff, out_dir / name / f"{view}.diff.png"), sizes=sizes)


def _write_report(report: Report, out_dir: Path, approved_dir: Path) -> Path:
    def relative(path: Path | None) -> str | None:
        return path.relative_to(out_dir).as_posix() if path else None

    changes = [{
        "fixture": c.fixture, "view": c.view, "status": c.status, "text": c.describe(),
        "before": relative(c.before), "after": relative(c.after), "diff": relative(c.diff),
        "failure": c.failure.summary() if c.failure else None,
    } for c in report.changed]
    html = render_template("templates/preview/snapshots-report.html", {
        "changes": changes, "pictures": report.pictures, "approved_dir": display_path(approved_dir),
        "tolerance": PIXEL_TOLERANCE, "changed_pixels": CHANGED_PIXELS,
    })
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path

"""Visual regression: the fixtures drawn now match the approved pictures in tests/snapshots/.

One fixture of each type, in all four views, is compared here (SNAPSHOTS_ALL=1 compares
every fixture; `flask --app app snapshots` always does). A failure lists what changed and
points to the report with before, after and difference; if the change is intended,
`flask --app app snapshots --approve` accepts it. The other tests prove the comparison can
fail (a brand colour changed in a copy), that --approve accepts, and that noise is absorbed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from PIL import Image, ImageDraw
from playwright.sync_api import Playwright

from app import create_app
from app.workbench import snapshots
from app.workbench.snapshots import CHANGED_PIXELS, Camera, compare, open_camera, run_snapshots
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

APPROVED = ROOT / "tests" / "snapshots"
SAMPLE = ["appointment/confirmation-nl", "bill/electricity-nl", "invoice/capsules-nl",
          "invoice/preferences-fr"]  # the last also draws the customer pages
HOW_TO_APPROVE = "If the change is intended: .venv/bin/flask --app app snapshots --approve"


@pytest.fixture(scope="module")
def camera(playwright: Playwright) -> Iterator[Camera]:
    # A Chromium of the camera's own (fonts pinned at launch), from the run's one Playwright.
    with open_camera(playwright) as opened:
        yield opened


def _config(**overrides: str) -> dict[str, Any]:
    return {"TEMPLATES_DIR": str(ROOT / "templates"), "COMPONENTS_DIR": str(ROOT / "components"),
            "BRANDS_DIR": str(ROOT / "templates" / "brands"),
            "TRANSLATIONS_DIR": str(ROOT / "translations"), "FIXTURES_DIR": str(ROOT / "fixtures"),
            **overrides}


def _quiet(line: str) -> None:
    pass


def test_the_fixtures_look_as_approved(camera: Camera, tmp_path: Path) -> None:
    names = None if os.environ.get("SNAPSHOTS_ALL") else SAMPLE
    report = run_snapshots(_config(), create_app, names=names, approved_dir=APPROVED,
                           out_dir=tmp_path / "report", camera=camera, echo=_quiet)
    assert report.pictures >= 4 * len(SAMPLE)
    assert not report.changed, "\n".join([*(c.describe() for c in report.changed),
                                          f"report: {report.report_path}", HOW_TO_APPROVE])


def test_a_changed_brand_colour_shows_in_the_report(camera: Camera, tmp_path: Path) -> None:
    brands = tmp_path / "brands"
    shutil.copytree(ROOT / "templates" / "brands", brands)
    brand = brands / "demo-coffee" / "brand.json"
    text = brand.read_text()
    assert '"primary": "#6f3b1f"' in text, "demo-coffee's primary colour changed: adapt this test"
    brand.write_text(text.replace('"primary": "#6f3b1f"', '"primary": "#1f6f3b"'))
    out = tmp_path / "report"
    report = run_snapshots(_config(BRANDS_DIR=str(brands)), create_app, names=["invoice/capsules-nl"],
                           views=["email-375"], approved_dir=APPROVED, out_dir=out, camera=camera,
                           echo=_quiet)
    assert [(c.fixture, c.view, c.status) for c in report.changed] == [
        ("invoice/capsules-nl", "email-375", "changed")]
    change = report.changed[0]
    assert change.pixels > 1000  # the button, the rules and the links
    html = report.report_path.read_text() if report.report_path else ""
    for picture in (change.before, change.after, change.diff):
        assert picture is not None and picture.is_file()
        assert picture.relative_to(out).as_posix() in html
    with Image.open(change.diff) as diff:
        assert (230, 0, 0) in {colour for _, colour in diff.convert("RGB").getcolors(1 << 16) or []}


def test_approve_accepts_what_is_drawn(camera: Camera, tmp_path: Path) -> None:
    approved = tmp_path / "approved"
    first = run_snapshots(_config(), create_app, names=["bill/electricity-nl"], views=["email-600", "pdf-1"],
                          approved_dir=approved, out_dir=tmp_path / "a", approve=True, camera=camera,
                          echo=_quiet)
    assert not first.changed and len(first.approved) == 2
    drawn = sorted(p.name for p in (approved / "bill/electricity-nl").iterdir())
    assert drawn == ["email-600.png", "pdf-1.png"]
    again = run_snapshots(_config(), create_app, names=["bill/electricity-nl"], views=["email-600", "pdf-1"],
                          approved_dir=approved, out_dir=tmp_path / "b", camera=camera, echo=_quiet)
    assert again.changed == []
    new = run_snapshots(_config(), create_app, names=["invoice/capsules-nl"], views=["web-320"],
                        approved_dir=approved, out_dir=tmp_path / "c", camera=camera, echo=_quiet)
    assert [(c.status, c.view) for c in new.changed] == [("new", "web-320")]


def test_compare_absorbs_noise_and_sees_changes() -> None:
    before = Image.new("RGB", (200, 100), (255, 255, 255))
    noisy = before.copy()
    for x in range(CHANGED_PIXELS):
        noisy.putpixel((x, 50), (215, 215, 215))  # faint anti-aliasing differences
    noisy.putpixel((150, 10), (0, 0, 0))  # one stray dark pixel
    changed, total, _ = compare(before, noisy)
    assert changed == 1 and total == 200 * 100
    moved = before.copy()
    ImageDraw.Draw(moved).rectangle((10, 10, 29, 29), fill=(31, 111, 59))
    assert compare(before, moved)[0] == 400
    taller = Image.new("RGB", (200, 120), (255, 255, 255))
    assert compare(before, taller)[1] == 200 * 120  # compared on the larger canvas


# Every family the templates name, and one no machine has: each must be the pinned font.
FAMILIES = ["Liberation Sans", "Arimo", "Helvetica", "Arial", "DejaVu Sans", "system-ui",
            "sans-serif", "serif", "monospace", "No Such Font"]


def test_the_browser_draws_every_family_with_the_pinned_font(camera: Camera) -> None:
    paragraphs = "".join(f"<p style=\"font-family: '{family}'\">Façade € 1.234,56 — ÄÖÜ ß</p>"
                         f"<p style=\"font-family: '{family}'; font-weight: 700\">Te betalen</p>"
                         for family in FAMILIES)
    camera.shoot(f"<!doctype html><meta charset=utf-8><body>{paragraphs}</body>", 320)
    session = camera.pages[320].context.new_cdp_session(camera.pages[320])
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument")["root"]["nodeId"]
    nodes = session.send("DOM.querySelectorAll", {"nodeId": root, "selector": "p"})["nodeIds"]
    used = [sorted({font["postScriptName"] for font in
                    session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]})
            for node in nodes]
    session.detach()
    expected = [["LiberationSans"], ["LiberationSans-Bold"]] * len(FAMILIES)
    assert used == expected, f"fonts drawn, per family of {FAMILIES}: {used}"


def test_the_command_writes_a_report(runner: FlaskCliRunner, camera: Camera, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # One Playwright per thread: the command borrows this module's browser.
    monkeypatch.setattr(snapshots, "open_camera", lambda: nullcontext(camera))
    result = runner.invoke(args=["snapshots", "--only", "no-such/*", "--approved", str(tmp_path / "a"),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "snapshots: 0 pictures" in result.output
    assert (tmp_path / "out" / "report.html").is_file()

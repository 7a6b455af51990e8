"""The PDF's CPU cost per type, next to a lean reference and raw WeasyPrint, and its memory over
many PDFs, measured in the same run.

Per fixture, three layouts of the same message, each timed with time.process_time (CPU of this
process, one core) around one call, median of `repeat` calls after one to warm up:
- pdf: `app.channels.layout.lay_out`, what the sandbox's child runs for the PDF channel (the
  channel's own `render` waits for that child, so its CPU is not this process's);
- lean: the same content hand-written lean (bench/lean/: tables and floats, one short print
  stylesheet) through the same `render_document`, so fonts and the parsed stylesheet are reused
  and invoices and bills are PDF/A-3b with their Factur-X XML: the floor for this engine;
- weasyprint: `weasyprint.HTML(...).write_pdf()` on the channel's own HTML, nothing reused.
Rows group a type's fixtures by their PDF's page count. The goals (CPU ms on one core) are
the issue's: appointment 60, a 1-page invoice 90, a bill 200; and within 1.2x of lean.

`rss_growth(n)` lays out n PDFs, cycling over every fixture, and reads the resident set size
(/proc/self/statm) after one warm-up pass and at the end: goal, at most 10 MB over 1,000.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import weasyprint
from markupsafe import Markup

from app.channels import layout, pdf
from app.pipeline import prepare_message
from app.store import artifacts
from bench.table import print_columns

LEAN = Path(__file__).resolve().parent / "lean"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOALS_MS = {("appointment", 1): 60.0, ("invoice", 1): 90.0, ("bill", 1): 200.0, ("bill", 2): 200.0,
            ("bill", 3): 200.0}
GOAL_RATIO = 1.2

_lean = jinja2.Environment(loader=jinja2.FileSystemLoader(LEAN), autoescape=True,
                           undefined=jinja2.ChainableUndefined)


def lean_html(kind: str, context: dict[str, Any]) -> str:
    style = Markup((LEAN / "style.css").read_text(encoding="utf-8"))
    return _lean.get_template(f"{kind}.html").render({**context, "style": style})


def layouts(document: dict[str, Any]) -> tuple[dict[str, Callable[[], Any]], list[Any]]:
    """The three layouts of one fixture as argument-less calls, and `lay_out`'s arguments."""
    message, enriched = prepare_message({**document, "channels": ["pdf"]})
    html, einvoice, _ = pdf.document_source(message, enriched)
    pending = {asset.drawn.digest: asset.data for asset in (*enriched.assets, *message.assets)}
    args = [html, artifacts().root, enriched.public_base_url, einvoice, enriched.now, pending]
    lean = lean_html(message.type, message.context)

    def fetcher() -> layout.OwnAssetsFetcher:
        return layout.OwnAssetsFetcher(artifacts(), enriched.public_base_url, pending)

    return {
        "pdf": lambda: layout.lay_out(*args),
        "lean": lambda: layout.render_document(lean, fetcher(), einvoice=einvoice, created=enriched.now),
        "weasyprint": lambda: weasyprint.HTML(string=html, base_url=enriched.public_base_url + "/",
                                              url_fetcher=fetcher()).write_pdf(),
    }, args


def cpu_ms(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median CPU ms of `repeat` calls after one warm-up call, and the warm-up's answer."""
    answer = call()
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        call()
        samples.append(time.process_time() - start)
    return statistics.median(samples) * 1000, answer


def fixture_row(path: Path, repeat: int) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    calls, _ = layouts(document)
    ms, (_, pages) = cpu_ms(calls["pdf"], repeat)
    lean_ms, (_, lean_pages) = cpu_ms(calls["lean"], repeat)
    raw_ms, _ = cpu_ms(calls["weasyprint"], repeat)
    return {"fixture": f"{document['type']}/{path.stem}", "type": document["type"], "pages": pages,
            "lean_pages": lean_pages, "ms": ms, "lean_ms": lean_ms, "weasyprint_ms": raw_ms}


def measure(types: list[str], repeat: int) -> dict[str, Any]:
    """Per fixture and per (type, pages) group: CPU ms of the PDF, lean and raw WeasyPrint."""
    fixtures = []
    for kind in types:
        for path in sorted((FIXTURES / kind).glob("*.json")):
            print(f"bench: pdf cpu {kind}/{path.stem}", file=sys.stderr)
            fixtures.append(fixture_row(path, repeat))
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for found in fixtures:
        groups.setdefault((found["type"], found["pages"]), []).append(found)
    rows = []
    for (kind, pages), members in groups.items():
        def mean(name: str, members: list[dict[str, Any]] = members) -> float:
            return statistics.fmean(member[name] for member in members)

        rows.append({"type": kind, "pages": pages, "fixtures": len(members), "ms": mean("ms"),
                     "lean_ms": mean("lean_ms"), "weasyprint_ms": mean("weasyprint_ms"),
                     "lean_pages": sorted({member["lean_pages"] for member in members}),
                     "goal_ms": GOALS_MS.get((kind, pages))})
    return {"rows": rows, "fixtures": fixtures}


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_growth(count: int) -> dict[str, Any]:
    """RSS after one warm-up pass over every fixture's PDF, and after `count` more PDFs."""
    calls = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        found, _ = layouts(json.loads(path.read_text(encoding="utf-8")))
        calls.append(found["pdf"])
    for call in calls:
        call()
    before = _resident_mb()
    for n in range(count):
        calls[n % len(calls)]()
    after = _resident_mb()
    return {"pdfs": count, "before_mb": before, "after_mb": after, "growth_mb": after - before,
            "goal_mb": 10.0 * count / 1000}


def print_rows(results: dict[str, Any], out: Any = sys.stdout) -> None:
    print("\nPDF CPU ms on one core (time.process_time; median per fixture, mean per group)", file=out)
    header = ("type", "pages", "fx", "pdf ms", "goal", "lean ms", "lean pages", "pdf/lean",
              "weasyprint ms", "pdf/weasyprint", "")
    lines = [header]
    for r in results["rows"]:
        ratio = r["ms"] / r["lean_ms"]
        met = ratio <= GOAL_RATIO and (r["goal_ms"] is None or r["ms"] <= r["goal_ms"])
        lines.append((r["type"], str(r["pages"]), str(r["fixtures"]), f"{r['ms']:.0f}",
                      "-" if r["goal_ms"] is None else f"<={r['goal_ms']:.0f}", f"{r['lean_ms']:.0f}",
                      ",".join(map(str, r["lean_pages"])), f"{ratio:.2f}x",
                      f"{r['weasyprint_ms']:.0f}", f"{r['ms'] / r['weasyprint_ms']:.2f}x",
                      "ok" if met else "OVER"))
    print_columns(lines, out)
    print(f"goal: within {GOAL_RATIO}x of lean, and the ms goal where one is given", file=out)
    rss = results.get("rss")
    if rss:
        verdict = "ok" if rss["growth_mb"] <= rss["goal_mb"] else "OVER"
        print(f"RSS over {rss['pdfs']:,} PDFs: {rss['before_mb']:.1f} MB after warm-up, "
              f"{rss['after_mb']:.1f} MB at the end, growth {rss['growth_mb']:+.1f} MB "
              f"(goal <= {rss['goal_mb']:.1f} MB) {verdict}", file=out)

"""How fast each channel renders, next to the floor it cannot beat, measured in the same run.

What is measured, per fixture under fixtures/<type>/ (every channel of the type requested):
- each channel's own `render(message, enriched, {})`, as `render_channels` calls it, on a
  message made once beforehand by `prepare_message` (validate, enrich, compose). `email` is
  the HTML, the text part and the .eml; `email html only` is `email.render_html` alone;
  `sms` and `ics` have no floor;
- `render_message()` end to end (validate, enrich, compose, render, store) with only the
  email channel, and with every channel of the type;
- the PDF of a 1-page and of a 5-page invoice built here (line count found by rendering).

The floors, and why they are floors:
- email: the cached compiled template (`compiled("email/<type>/email.mjml", context)`, MJML
  already compiled to HTML-with-Jinja, the brand's look written in) `.render(context)` alone.
  Per request the email path must at least run this Jinja render; anything above it is our
  own overhead.
- web: the document template's `.render(context)` alone, with the same composed context.
- pdf: `weasyprint.HTML(string=html, base_url=..., url_fetcher=...).write_pdf()` on the very
  HTML the PDF channel lays out, with the same fetcher: the layout and PDF writing we buy.
- end to end, all channels: the sum of the three floors above.

Timing: time.perf_counter_ns around one call. Each case of a type's first fixture is called
once to warm up (which compiles the templates and loads WeasyPrint's fonts), then a fixture's
cases are timed round-robin, `repeat` times each (cases without a PDF 5x as often), and the
median kept. A type's figure is the mean of its fixtures' medians. The process is pinned to
one CPU when the OS allows, so messages per second are per core. Everything runs in the app
context of an app on a temporary SQLite database and artifact folder, with production's
TEMPLATE_AUTO_RELOAD=False.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
import weasyprint
from flask import Flask

from app import create_app
from app.channels import channels_of, email, ics, pdf, sms, web
from app.channels.layout import OwnAssetsFetcher
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.pipeline import commit, prepare_message, render_message
from app.schemas.invoice import MAX_LINES
from app.store import artifacts
from app.templating import compiled, render
from bench import pdf_cpu

TYPES = ("appointment", "invoice", "bill")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# (case, its floor, goal for measured/floor); a floor of None means there is none to compare.
ROWS: list[tuple[str, str | None, float | None]] = [
    ("email", "jinja email", 2.0),
    ("email html only", "jinja email", 2.0),
    ("web", "jinja document", 2.0),
    ("pdf", "weasyprint", 1.2),
    ("sms", None, None),
    ("ics", None, None),
    ("end-to-end, email only", "jinja email", None),
    ("end-to-end, all channels", "sum of floors", None),
]
SUMMED_FLOORS = ("jinja email", "jinja document", "weasyprint")
PDF_PAGES = (1, 5)  # the invoice PDF lengths measured on their own
SLOW = {"pdf", "weasyprint", "end-to-end, all channels"}  # the cases that draw a PDF
FAST_FACTOR = 5  # how many more samples the other cases get (see `medians`)

Case = Callable[[], object]


# --- Cases and their floors ---------------------------------------------------------------

def raw_weasyprint(html: str, fetcher: OwnAssetsFetcher) -> bytes:
    return weasyprint.HTML(string=html, base_url=fetcher.public_base_url + "/",
                           url_fetcher=fetcher).write_pdf()


def pdf_floor(message: Composed, enriched: Enriched) -> Case:
    html = render(f"templates/{message.type}/document.html", {**message.context, "channel": "pdf"})
    fetcher = OwnAssetsFetcher(artifacts(), enriched.public_base_url)
    return lambda: raw_weasyprint(html, fetcher)


def fixture_cases(document: dict[str, Any]) -> dict[str, Case]:
    """Every case and floor of one fixture, as argument-less calls."""
    kind = document["type"]
    document = {**document, "channels": list(channels_of(kind))}
    message, enriched = prepare_message(document)
    email_context = {**message.context, "channel": "email"}
    email_template = compiled(f"email/{kind}/email.mjml", email_context)
    web_context = {**message.context, "channel": "web"}
    document_template = compiled(f"templates/{kind}/document.html", web_context)
    email_only = {**document, "channels": ["email"]}

    cases: dict[str, Case] = {
        "email": lambda: email.render(message, enriched, {}),
        "email html only": lambda: email.render_html(message),
        "jinja email": lambda: email_template.render(email_context),
        "web": lambda: web.render(message, enriched, {}),
        "jinja document": lambda: document_template.render(web_context),
        "pdf": lambda: pdf.render(message, enriched, {}),
        "weasyprint": pdf_floor(message, enriched),
        "sms": lambda: sms.render(message, enriched, {}),
        "end-to-end, email only": lambda: commit(render_message(email_only)),
        "end-to-end, all channels": lambda: commit(render_message(document)),
    }
    if "ics" in channels_of(kind):
        cases["ics"] = lambda: ics.render(message, enriched, {})
    return cases


# --- Invoices of a given length in pages ------------------------------------------------------

def invoice_document(lines: int) -> dict[str, Any]:
    """An invoice request with `lines` lines; its totals are left for the pipeline to compute."""
    products = ("Arpeggia capsules, sleeve of 10", "Descaling kit", "Lungo Forte capsules, sleeve of 10",
                "Glass cup set (2)", "Milk frother, stainless steel")
    return {
        "type": "invoice", "brand": "demo-coffee", "locale": "nl-BE", "channels": ["pdf"],
        "reference": f"benchmark invoice, {lines} lines",
        "recipient": {"customer_id": "bench-1", "name": {"given": "David", "family": "Janssens"},
                      "email": "david@example.com"},
        "data": {
            "number": f"BENCH-{lines:04d}", "issue_date": "2026-11-20", "due_date": "2026-12-04",
            "currency": "EUR",
            "seller": {"name": "Demo Coffee", "vat_id": "BE0123456789",
                       "address": "Rue du Marché 5, 1000 Brussels", "iban": "BE68539007547034",
                       "bic": "GKCCBEBB"},
            "buyer": {"name": "David Janssens", "address": "Veldstraat 1, 9000 Gent"},
            "lines": [
                {"sku": f"sku-{i}", "description": products[i % len(products)],
                 "quantity": str(1 + i % 4), "unit_price": f"{2 + i % 9}.{(i * 37) % 100:02d}",
                 "vat_rate": "21" if i % 3 else "6"}
                for i in range(lines)
            ],
            "payment": {"reference": "+++090/9337/55493+++", "pay_url": "https://pay.example/inv-123"},
        },
    }


def pages_of(lines: int) -> int:
    message, enriched = prepare_message(invoice_document(lines))
    return pdf.render(message, enriched, {}).output["pages"]


def lines_for(pages: int, start: int = 40, tries: int = 12) -> int:
    """A line count whose invoice PDF has exactly `pages` pages: scale, then bisect."""
    below, above, lines = 0, MAX_LINES + 1, start  # below: too few pages; above: too many
    for _ in range(tries):
        got = pages_of(lines)
        if got == pages:
            return lines
        if got < pages:
            below = max(below, lines)
        else:
            above = min(above, lines)
        guess = round(lines * (pages - 0.5) / got)
        lines = guess if below < guess < above else (below + above) // 2
    raise RuntimeError(f"found no line count that gives a {pages}-page invoice")


# --- Timing -------------------------------------------------------------------------------------

def medians(cases: dict[str, Case], repeat: int, warm_up: bool = True) -> dict[str, float]:
    """Median ms of each case over `repeat` round-robin rounds, after a warm-up call each.

    A case that draws no PDF costs milliseconds, so it is timed FAST_FACTOR times a round:
    more samples steady its median at no real cost to the run's length.
    """
    if warm_up:
        for case in cases.values():
            case()
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            for _ in range(1 if name in SLOW else FAST_FACTOR):
                start = time.perf_counter_ns()
                case()
                samples[name].append(time.perf_counter_ns() - start)
    return {name: statistics.median(ns) / 1e6 for name, ns in samples.items()}


def row(kind: str, case: str, ms: float, floor: str | None, floor_ms: float | None,
        goal: float | None, fixtures: int) -> dict[str, Any]:
    ratio = ms / floor_ms if floor_ms else None
    return {
        "type": kind, "case": case, "fixtures": fixtures, "ms": ms, "per_second": 1000 / ms,
        "floor": floor, "floor_ms": floor_ms,
        "floor_per_second": 1000 / floor_ms if floor_ms else None,
        "ratio": ratio, "goal": goal,
        "met": (ratio <= goal) if goal is not None and ratio is not None else None,
    }


def type_rows(kind: str, per_fixture: list[dict[str, float]]) -> list[dict[str, Any]]:
    """A type's rows: each case's mean of fixture medians, beside its floor's."""
    def mean(name: str) -> float:
        return statistics.fmean(fixture[name] for fixture in per_fixture)

    rows = []
    for case, floor, goal in ROWS:
        if case not in per_fixture[0]:
            continue
        floor_ms = (sum(mean(name) for name in SUMMED_FLOORS) if floor == "sum of floors"
                    else mean(floor) if floor else None)
        rows.append(row(kind, case, mean(case), floor, floor_ms, goal, len(per_fixture)))
    return rows


def invoice_pdf_rows(repeat: int) -> list[dict[str, Any]]:
    rows = []
    for pages in PDF_PAGES:
        lines = lines_for(pages, start=3 if pages == 1 else 80)
        message, enriched = prepare_message(invoice_document(lines))
        print(f"bench: invoice, {pages} pages", file=sys.stderr)
        result = medians({"pdf": lambda m=message, e=enriched: pdf.render(m, e, {}),
                          "weasyprint": pdf_floor(message, enriched)}, repeat, warm_up=False)
        label = f"pdf, {pages}-page invoice ({lines} lines)"
        rows.append(row("invoice", label, result["pdf"], "weasyprint", result["weasyprint"], 1.2, 1))
    return rows


# --- The run ----------------------------------------------------------------------------------

def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
        return "pinned to CPU 0"
    return "not pinned (no os.sched_setaffinity here)"


def bench_app(folder: Path, auto_reload: bool) -> Flask:
    return create_app({
        "SECRET_KEY": "bench", "PUBLIC_BASE_URL": "http://bench.local",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}", "ARTIFACT_DIR": str(folder / "artifacts"),
        "TEMPLATE_AUTO_RELOAD": auto_reload,
    })


def run(repeat: int, types: list[str], auto_reload: bool = False, pdfs: int = 0,
        pdf_only: bool = False) -> dict[str, Any]:
    began, began_cpu = time.perf_counter(), time.process_time()
    environment = {
        "python": platform.python_version(), "weasyprint": weasyprint.__version__,
        "jinja2": jinja2.__version__, "mjml-python": version("mjml-python"),
        "cpu": pin_to_one_core(), "template_auto_reload": auto_reload, "repeat": repeat,
    }
    pdf_results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    fixtures: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as folder:
        app = bench_app(Path(folder), auto_reload)
        with app.app_context():
            for kind in [] if pdf_only else types:
                per_fixture = []
                for path in sorted((FIXTURES / kind).glob("*.json")):
                    name = f"{kind}/{path.stem}"
                    try:
                        document = json.loads(path.read_text(encoding="utf-8"))
                        print(f"bench: {name}", file=sys.stderr)
                        # Warming up a type's first fixture compiles its templates; the median
                        # of the others shrugs off a cold first call, and the run stays short.
                        fixtures[name] = medians(fixture_cases(document), repeat, warm_up=not per_fixture)
                    except Exception as exc:  # a fixture being edited must not stop the run
                        skipped[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
                        continue
                    per_fixture.append(fixtures[name])
                if per_fixture:
                    rows += type_rows(kind, per_fixture)
                if kind == "invoice":
                    rows += invoice_pdf_rows(repeat)
            pdf_results = pdf_cpu.measure(types, repeat)
            if pdfs:
                print(f"bench: {pdfs} PDFs for RSS", file=sys.stderr)
                pdf_results["rss"] = pdf_cpu.rss_growth(pdfs)
        app.extensions["touchpoint.engine"].dispose()
    seconds = time.perf_counter() - began
    environment["seconds"] = round(seconds, 1)
    # Below 1, other processes had our core part of the time and every figure is inflated.
    environment["cpu_share"] = round((time.process_time() - began_cpu) / seconds, 2)
    return {"environment": environment, "rows": rows, "fixtures": fixtures, "skipped": skipped,
            "pdf_cpu": pdf_results}


# --- The table --------------------------------------------------------------------------------

def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def print_table(results: dict[str, Any], out: Any = sys.stdout) -> None:
    env = results["environment"]
    print(f"Touchpoint render benchmark: Python {env['python']}, WeasyPrint {env['weasyprint']}, "
          f"Jinja2 {env['jinja2']}, mjml-python {env['mjml-python']}", file=out)
    reload_note = "development" if env["template_auto_reload"] else "production"
    print(f"TEMPLATE_AUTO_RELOAD={env['template_auto_reload']} (as in {reload_note}); {env['cpu']}; "
          f"median of {env['repeat']} runs per fixture ({env['repeat'] * FAST_FACTOR} without a PDF), "
          "mean over a type's fixtures", file=out)
    header = ("type", "case", "fx", "ms/msg", "msg/s", "floor", "floor ms", "floor msg/s",
              "ratio", "goal", "")
    lines = [header]
    for r in results["rows"]:
        verdict = "" if r["met"] is None else "ok" if r["met"] else "OVER"
        lines.append((
            r["type"], r["case"], str(r["fixtures"]), _ms(r["ms"]), _rate(r["per_second"]),
            r["floor"] or "-", _ms(r["floor_ms"]), _rate(r["floor_per_second"]),
            "-" if r["ratio"] is None else f"{r['ratio']:.2f}x",
            "-" if r["goal"] is None else f"<={r['goal']:g}x", verdict,
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = {2, 3, 4, 6, 7, 8}
    print(file=out)
    for n, line in enumerate(lines if results["rows"] else []):  # none with --pdf-only
        cells = [cell.rjust(w) if i in numeric else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(line, widths, strict=True))]
        print("  ".join(cells).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    pdf_cpu.print_rows(results["pdf_cpu"], out)
    for name, reason in results["skipped"].items():
        print(f"skipped {name}: {reason}", file=out)
    print(f"\n{len(results['fixtures'])} fixtures; whole run {env['seconds']} s, "
          f"{env['cpu_share']:.0%} of it on the CPU", file=out)
    if env["cpu_share"] < 0.9:
        print("warning: other processes shared this core; the times are inflated and noisy", file=out)

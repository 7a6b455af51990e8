"""The bill's consumption chart: SVG on the web page and in the PDF, PNG at 2x in email.

Each test opens the real output: the inline SVG is parsed as XML (bars counted, colours and
the comparison lines read), the email's PNG is fetched and measured, the alt text is read
for the figures, and bad usage is tried case by case (422 or drawn correctly).
"""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import fields, replace
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import pytest
from flask.testing import FlaskClient
from PIL import Image

from app.i18n import translations
from app.visuals import charts
from app.visuals.charts import nice_ticks
from tests.conftest import PUBLIC_BASE_URL, load_fixture

SVG = "{http://www.w3.org/2000/svg}"
ENERGY_GREEN = "#1b6e3c"  # demo-energy's primary colour: the current period


def render(client: FlaskClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/render", json=document)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def fetch(client: FlaskClient, url: str) -> bytes:
    with client.get(url.removeprefix(PUBLIC_BASE_URL)) as response:
        assert response.status_code == 200, url
        return response.data


def web_svg(client: FlaskClient, answer: dict[str, Any]) -> ElementTree.Element:
    page = fetch(client, answer["outputs"]["web"]["url"]).decode()
    found = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(found) == 1, "expected one chart on the web page"
    return ElementTree.fromstring(found[0])


def bars(svg: ElementTree.Element) -> list[dict[str, str]]:
    """The chart's bars: every <rect> above the legend row."""
    bottom = charts.SCREEN.bottom
    return [rect.attrib for rect in svg.iter(f"{SVG}rect")
            if float(rect.attrib["y"]) + float(rect.attrib["height"]) == pytest.approx(bottom, abs=0.2)]


def chart_img(html: str) -> dict[str, str]:
    found = re.findall(r"<img\b[^>]*>", html)
    tags = [dict(re.findall(r'(\w+)="([^"]*)"', tag)) for tag in found]
    [chart] = [tag for tag in tags if tag.get("width") == "552"]
    return chart


def usage(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"month": month, "value": value} for month, value in pairs]


def test_web_chart_shows_24_months_with_the_current_and_last_years_month_marked(client: FlaskClient) -> None:
    svg = web_svg(client, render(client, load_fixture("bill/electricity-nl")))
    assert svg.attrib["role"] == "img"
    drawn = bars(svg)
    assert len(drawn) == 24
    assert drawn[-1]["fill"] == ENERGY_GREEN                     # October 2026: this period
    assert drawn[11]["fill"] == charts._LAST_YEAR                # October 2025: a year before
    assert {bar["fill"] for bar in drawn[:11] + drawn[12:-1]} == {charts._OTHER}
    # Taller bar, more consumption: 345.0 (Feb 2025) is the tallest, 180.3 (Aug 2026) the lowest.
    heights = [float(bar["height"]) for bar in drawn]
    assert heights.index(max(heights)) == 3 and heights.index(min(heights)) == 21
    # Similar (280) and efficient (190) homes: two dashed lines, the similar one higher up.
    dashed = [line.attrib for line in svg.iter(f"{SVG}line")
              if "stroke-dasharray" in line.attrib and float(line.attrib["x2"]) == charts.SCREEN.right]
    assert len(dashed) == 2
    similar, efficient = (float(line["y1"]) for line in dashed)
    assert similar < efficient
    text = "".join(svg.itertext())
    assert "276" in text and "240" in text                       # the marked bars carry their value
    desc = svg.find(f"{SVG}desc")
    assert desc is not None and "301,5" in (desc.text or "") and "276" in (desc.text or "")


def test_email_chart_is_a_png_at_2x_with_a_sentence_for_alt_and_the_figures_in_a_table(
        client: FlaskClient) -> None:
    answer = render(client, load_fixture("bill/electricity-nl"))
    html = answer["outputs"]["email"]["html"]
    assert "<svg" not in html.lower()
    img = chart_img(html)
    assert img["src"].startswith(f"{PUBLIC_BASE_URL}/assets/") and img["src"].endswith(".png")
    assert (img["width"], img["height"]) == ("552", "260")
    with Image.open(io.BytesIO(fetch(client, img["src"]))) as picture:
        assert picture.size == (1104, 520)
    # With images off the alt text shows in its place: one sentence, not 24 figures; the figures
    # are in the table that follows (the last six months and the same month last year).
    alt = img["alt"].replace("\u00a0", "").replace("\u202f", "")
    assert alt.count(".") == 1 and alt.endswith(".") and "15%" in alt and len(alt) < 120, alt
    after = html[html.index(img["src"]):]
    for text in ("okt 2025", "okt 2026", "240", "276", "280", "190"):
        assert text in after, text
    # The sentence that reads the chart is in the email too: 276 against 240 is 15 % more.
    assert "15%" in html.replace("\u00a0", "").replace("\u202f", "")


def test_pdf_chart_is_vector_with_its_labels_as_text(client: FlaskClient, tmp_path: Any) -> None:
    answer = render(client, load_fixture("bill/electricity-nl"))
    pdf = fetch(client, answer["outputs"]["pdf"]["url"])
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "Efficient homes: 190 kWh" in text or "190 kWh" in text
    # The chart is drawn, not pasted: the PDF holds no picture as large as the chart's PNG.
    images = subprocess.run(["pdfimages", "-list", "-"], input=pdf, capture_output=True, check=False)
    if images.returncode == 0:
        assert "1104" not in images.stdout.decode()


def test_email_only_bill_draws_no_tips_qr(client: FlaskClient) -> None:
    document = load_fixture("bill/electricity-nl") | {"channels": ["email"]}
    html = render(client, document)["outputs"]["email"]["html"]
    qr_of = translations("nl").gettext("QR code of %(url)s").split("%")[0]
    assert qr_of.strip() and qr_of not in html  # the tips QR is for paper and the web page
    assert "https://energy.example/save" in html  # email links the tips


def test_gaps_are_empty_months_not_zeros(client: FlaskClient) -> None:
    document = load_fixture("bill/gas-fr")
    document["data"]["usage"] = usage(("2026-05", "80.5"), ("2026-06", "40"), ("2026-09", "35"),
                                      ("2026-10", "95.2"))
    answer = render(client, document)
    svg = web_svg(client, answer)
    assert len(bars(svg)) == 4
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert labels.count("juil.") == 1 and labels.count("août") == 1  # the empty months keep their place
    desc = svg.find(f"{SVG}desc")
    no_reading = translations("fr").gettext("no reading")
    assert desc is not None and (desc.text or "").count(no_reading) == 2


def test_a_single_month_draws_one_bar_and_no_last_year(client: FlaskClient) -> None:
    answer = render(client, load_fixture("bill/single-month-de"))
    svg = web_svg(client, answer)
    [bar] = bars(svg)
    assert bar["fill"] == ENERGY_GREEN
    assert "Same month last year" not in "".join(svg.itertext())
    html = answer["outputs"]["email"]["html"]
    assert "142,7" in html[html.index(chart_img(html)["src"]):]  # in the table under the chart


def test_all_zero_usage_is_drawn_without_dividing_by_zero(client: FlaskClient) -> None:
    document = load_fixture("bill/single-month-de")
    document["data"]["usage"] = usage(("2026-09", "0"), ("2026-10", "0"))
    svg = web_svg(client, render(client, document))
    assert bars(svg) == []
    assert "0" in [t.text for t in svg.iter(f"{SVG}text")]


def test_the_unit_is_text_in_the_svg_never_markup(client: FlaskClient) -> None:
    document = load_fixture("bill/electricity-nl")
    document["data"]["unit"] = "<b>m3</b>"
    svg = web_svg(client, render(client, document))
    assert svg.find(f".//{SVG}b") is None
    assert "<b>m3</b>" in "".join(svg.itertext())


BAD_USAGE: dict[str, tuple[Any, str, str]] = {
    "duplicate-month": (usage(("2026-09", "10"), ("2026-10", "20"), ("2026-09", "11")),
                        "data.usage[2].month", "twice"),
    "negative": (usage(("2026-09", "-5"), ("2026-10", "20")), "data.usage[0].value", "negative"),
    "not-a-number": (usage(("2026-09", "lots"), ("2026-10", "20")), "data.usage[0].value", "decimal"),
    "json-number": (usage(("2026-09", 301.5), ("2026-10", "20")), "data.usage[0].value", "decimal"),
    "bad-month": (usage(("2026-13", "5"), ("2026-10", "20")), "data.usage[0].month", "pattern"),
    "after-the-period": (usage(("2026-10", "5"), ("2026-11", "20")), "data.usage[1].month",
                         "after the billing period"),
}


@pytest.mark.parametrize(("value", "path", "words"), BAD_USAGE.values(), ids=BAD_USAGE.keys())
def test_bad_usage_is_a_422_naming_the_reading(
    client: FlaskClient, value: Any, path: str, words: str
) -> None:
    document = load_fixture("bill/electricity-nl")
    document["data"]["usage"] = value
    response = client.post("/v1/render", json=document)
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.json["errors"]
    assert [e["path"] for e in errors] == [path], errors
    assert words in errors[0]["message"]


def test_more_than_24_months_show_the_last_24(client: FlaskClient) -> None:
    document = load_fixture("bill/electricity-nl")
    months = [f"{2020 + i // 12}-{i % 12 + 1:02d}" for i in range(82)]  # 2020-01 .. 2026-10
    document["data"]["usage"] = usage(*((m, str(100 + i)) for i, m in enumerate(months)))
    svg = web_svg(client, render(client, document))
    assert len(bars(svg)) == 24


def test_each_chart_is_drawn_once(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    drawings: list[object] = []
    real = charts._draw_png

    def counting(chart: charts.ConsumptionChart, *args: Any) -> tuple[bytes, int, int]:
        drawings.append(chart)
        return real(chart, *args)

    monkeypatch.setattr(charts, "_draw_png", counting)
    document = load_fixture("bill/electricity-nl") | {"channels": ["email"]}
    render(client, document)
    render(client, document)
    assert len(drawings) == 1
    # Another locale says other words: another picture.
    render(client, document | {"locale": "fr-BE"})
    assert len(drawings) == 2


@pytest.mark.parametrize(("highest", "top", "ticks"), [
    ("345", "400", 5), ("276", "300", 4), ("9.5", "10", 6), ("0", "1", 2), ("1200", "1250", 6),
])
def test_nice_ticks(highest: str, top: str, ticks: int) -> None:
    got_top, got_ticks = nice_ticks(Decimal(highest))
    assert got_top == Decimal(top)
    assert len(got_ticks) == ticks and got_ticks[0] == 0 and got_ticks[-1] == got_top


def test_a_charts_drawing_key_changes_with_every_field_of_it_and_of_its_bars_and_lines() -> None:
    """The key finds a stored PNG of the same chart: any change to what is drawn must miss it."""
    bar = charts.Bar("Oct", "2026", 312.0, "current", "312 kWh")
    line = charts.Line(280.0, "similar", "Similar homes: 280 kWh")
    chart = charts.ConsumptionChart(bars=(bar,), lines=(line,), ticks=((0.0, "0"), (400.0, "400")),
                                    top=400.0, legend=(("current", "This period"),), title="Usage",
                                    description="312 kWh in October 2026", primary="#1b6e3c", unit="kWh")
    key = chart.key(charts.EMAIL)
    assert charts.ConsumptionChart(**{f.name: getattr(chart, f.name) for f in fields(chart)}).key(
        charts.EMAIL) == key
    assert chart.key(charts.SCREEN) != key
    changed = {"str": "x", "float": 1.5, "float | None": None, "bool": False}
    for field in fields(charts.Bar):
        assert replace(chart, bars=(replace(bar, **{field.name: changed[field.type]}),)).key(
            charts.EMAIL) != key, field.name
    for field in fields(charts.Line):
        assert replace(chart, lines=(replace(line, **{field.name: changed[field.type]}),)).key(
            charts.EMAIL) != key, field.name
    for name, value in (("bars", (bar, bar)), ("lines", ()), ("ticks", ((0.0, "0"),)), ("top", 500.0),
                        ("legend", ()), ("title", "x"), ("description", "x"), ("primary", "#000000"),
                        ("unit", "m³")):
        assert replace(chart, **{name: value}).key(charts.EMAIL) != key, name
    assert {f.name for f in fields(charts.ConsumptionChart)} == {
        "bars", "lines", "ticks", "top", "legend", "title", "description", "primary", "unit"}

"""The bill's consumption chart: one description, drawn as SVG (web, PDF) and as PNG (email).

Input: a ConsumptionChart, made by the bill's composer with every text already formatted
in the message's language (app/pipeline/compose/bill.py), and a Layout: PRINT (552 x 260,
11 px type: the PDF) or SCREEN (400 x 270, 14 px type: the web page,
readable on a phone). Output: `chart_svg` answers inline SVG markup (one <rect> per bar, a
<title> and a <desc> that state the figures); `chart_drawing` a PNG at 2x drawn with
Pillow, once per content (stored at commit). Both draw the same list of marks, laid out once (`_marks`).

Up to 24 bars, one per month; a month without a reading is an empty slot, never a zero.
The current period is drawn in the brand's colour, the same month last year in dark grey,
the other months light; similar and efficient homes are dashed lines across the plot.
The marked bars carry their value (drawn last, with a halo, so no bar covers it); the unit
stands over the axis. A legend names each mark: drawn in the SVG, but not in the email's PNG,
which a phone shrinks to 60 %: the email writes the legend in HTML (`ConsumptionChart.swatches`)
and the PNG uses the EMAIL layout, larger type and no legend.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, fields
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from html import escape
from operator import attrgetter

from PIL import Image, ImageDraw, ImageFont

from app import fonts
from app.store.artifacts import ArtifactStore
from app.visuals.drawn import Asset, Drawn, draw_unstored, drawing_key

_VERSION = 4  # bump when the drawing changes (4: the labels in the shipped Liberation Sans)
_GRID = "#d9dde1"
_AXIS_TEXT = "#5f6368"
_INK = "#1d1d1f"
_OTHER = "#b9c3cc"
_LAST_YEAR = "#4a4f55"
_LINES = {"similar": ("#b3261e", (6, 4)), "efficient": ("#0b6bcb", (2, 3))}


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    font: int      # type size in chart units
    left: int      # the plot's edges
    right: int
    top: int
    bottom: int
    legend: bool = True  # False: the legend is written beside the picture, in HTML

    @property
    def legend_y(self) -> int:
        return self.bottom + 3 * self.font + 12


# The PDF and the email's PNG: the email shows the PNG (2x) at exactly this size.
PRINT = Layout(552, 260, 11, 44, 538, 14, 186)
# The web page: fewer units across, so its type stays legible when a phone shrinks it.
SCREEN = Layout(400, 290, 14, 48, 386, 18, 178)
# The email's PNG, shown at 552 x 260 on a desktop and shrunk to the width of a phone: type as
# large as the plot allows, and the legend left to the HTML under the picture.
EMAIL = Layout(552, 260, 17, 60, 540, 26, 204, legend=False)
WIDTH, HEIGHT = EMAIL.width, EMAIL.height


@dataclass(frozen=True)
class Bar:
    label: str           # "Oct" (short month)
    year: str            # "2026"
    value: float | None  # None: no reading for that month
    kind: str = ""       # "current", "last_year" or ""
    value_text: str = ""  # the formatted value, shown above a marked bar
    labelled: bool = True  # whether the month's name belongs under its bar, space allowing


@dataclass(frozen=True)
class Line:
    value: float
    kind: str            # "similar" or "efficient"
    label: str           # "Similar homes: 280 kWh"


@dataclass(frozen=True)
class ConsumptionChart:
    bars: tuple[Bar, ...]
    lines: tuple[Line, ...]
    ticks: tuple[tuple[float, str], ...]  # gridline values and their labels
    top: float                             # the value at the top of the plot
    legend: tuple[tuple[str, str], ...]    # (kind, text) in order
    title: str
    description: str                       # the text alternative: every figure in words
    primary: str                           # the brand's colour for the current period
    unit: str = ""                         # written over the axis ("kWh")

    @property
    def swatches(self) -> list[dict[str, object]]:
        """The legend for HTML: {text, colour, line} each; `line` for a dashed rule, else a square."""
        return [{"text": text, "colour": _LINES[kind][0] if kind in _LINES else _colour(kind, self.primary),
                 "line": kind in _LINES} for kind, text in self.legend]

    def key(self, layout: Layout) -> str:
        return drawing_key("consumption-chart", _VERSION, repr(layout), _plain(self))


def _plain(value: object) -> object:
    """A chart as nested tuples of its fields' values, every field of every bar and line: what
    its key hashes. The dataclasses' own repr, called for each bar, took 3 % of a bill's email."""
    if isinstance(value, tuple):
        return tuple(map(_plain, value))
    fields_of = _FIELDS.get(type(value))
    return value if fields_of is None else _plain(fields_of(value))


_FIELDS = {kind: attrgetter(*(field.name for field in fields(kind)))
           for kind in (Bar, Line, ConsumptionChart)}


def nice_ticks(highest: Decimal) -> tuple[Decimal, list[Decimal]]:
    """A round top for the plot and 2 to 6 gridline values from 0 up to it."""
    if highest <= 0:
        return Decimal(1), [Decimal(0), Decimal(1)]
    exponent = highest.adjusted()
    for base in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10), Decimal(20)):
        step = base.scaleb(exponent - 1)
        count = (highest / step).to_integral_value(rounding=ROUND_CEILING)
        if count <= 5:
            return step * count, [step * i for i in range(int(count) + 1)]
    step = Decimal(1).scaleb(exponent + 1)  # pragma: no cover - the loop always answers
    return step, [Decimal(0), step]


# --- Marks: what is drawn, in chart units, the same for SVG and PNG --------------------------

@dataclass(frozen=True)
class _Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class _Rule:
    x1: float
    x2: float
    y: float
    colour: str
    width: float = 1
    dash: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # "start", "middle", "end"
    fill: str = _AXIS_TEXT
    bold: bool = False
    halo: bool = False  # a white outline, so the text reads over a bar or a line


def _colour(kind: str, primary: str) -> str:
    return {"current": primary, "last_year": _LAST_YEAR}.get(kind, _OTHER)


def _shown_labels(bars: tuple[Bar, ...]) -> list[bool]:
    """Under which bars the month is written: marked ones always, others when not crowding one."""
    marked = [i for i, bar in enumerate(bars) if bar.kind]
    crowded = 2 if len(bars) > 12 else 0
    return [bool(bar.kind) or (bar.labelled and all(abs(i - m) > crowded for m in marked))
            for i, bar in enumerate(bars)]


def _marks(chart: ConsumptionChart, layout: Layout) -> list[_Rect | _Rule | _Text]:
    font, marks = layout.font, []

    def y_of(value: float) -> float:
        return layout.bottom - (layout.bottom - layout.top) * value / chart.top

    for value, label in chart.ticks:
        marks.append(_Rule(layout.left, layout.right, y_of(value), _GRID))
        marks.append(_Text(layout.left - 6, y_of(value) + font * 0.35, label, "end"))
    slot = (layout.right - layout.left) / max(len(chart.bars), 1)
    width = max(slot * 0.68, 1.0)
    if chart.unit:
        marks.append(_Text(4, layout.top - font * 0.6, chart.unit, "start"))
    shown, last_year_written, values = _shown_labels(chart.bars), None, []
    for index, bar in enumerate(chart.bars):
        x = layout.left + slot * index + (slot - width) / 2
        centre = x + width / 2
        if bar.value is not None and bar.value > 0:
            top = y_of(bar.value)
            marks.append(_Rect(x, top, width, layout.bottom - top, _colour(bar.kind, chart.primary)))
        if bar.kind and bar.value_text and bar.value is not None:
            values.append(_Text(centre, y_of(bar.value) - 4, bar.value_text, fill=_INK, bold=True, halo=True))
        if shown[index]:
            marks.append(_Text(centre, layout.bottom + font + 3, bar.label, bold=bar.kind == "current"))
            if bar.year != last_year_written:  # the year under its first written month
                marks.append(_Text(centre, layout.bottom + 2 * font + 5, bar.year))
                last_year_written = bar.year
    for line in chart.lines:
        colour, dash = _LINES[line.kind]
        marks.append(_Rule(layout.left, layout.right, y_of(line.value), colour, 2, dash))
    marks.append(_Rule(layout.left, layout.right, layout.bottom, _AXIS_TEXT))
    marks += values  # over every bar and line
    x, y = float(layout.left), float(layout.legend_y)
    for kind, text in chart.legend if layout.legend else ():
        needed = 22 + len(text) * font * 0.58
        if x > layout.left and x + needed > layout.width - 4:
            x, y = float(layout.left), y + font + 6
        if kind in _LINES:
            colour, dash = _LINES[kind]
            marks.append(_Rule(x, x + 16, y - font * 0.35, colour, 2, dash))
        else:
            marks.append(_Rect(x, y - font + 1, font, font, _colour(kind, chart.primary)))
        marks.append(_Text(x + font + 8, y, text, "start", _INK))
        x += needed + 14
    return marks


# --- SVG ----------------------------------------------------------------------------------------

def chart_svg(chart: ConsumptionChart, layout: Layout = SCREEN) -> str:
    """Inline SVG; every text escaped (the unit comes from the request)."""
    e = escape
    out = [
        f'<svg class="c-chart__svg" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {layout.width} {layout.height}" width="{layout.width}" height="{layout.height}" '
        f'role="img" aria-labelledby="chart-title chart-desc" '
        f'font-family="{escape(fonts.STACK)}" font-size="{layout.font}">',
        f'<title id="chart-title">{e(chart.title)}</title>',
        f'<desc id="chart-desc">{e(chart.description)}</desc>',
    ]
    for mark in _marks(chart, layout):
        if isinstance(mark, _Rect):
            out.append(f'<rect x="{mark.x:.1f}" y="{mark.y:.1f}" width="{mark.width:.1f}" '
                       f'height="{mark.height:.1f}" fill="{mark.fill}"/>')
        elif isinstance(mark, _Rule):
            dash = f' stroke-dasharray="{mark.dash[0]} {mark.dash[1]}"' if mark.dash else ""
            out.append(f'<line x1="{mark.x1:.1f}" x2="{mark.x2:.1f}" y1="{mark.y:.1f}" y2="{mark.y:.1f}" '
                       f'stroke="{mark.colour}" stroke-width="{mark.width:g}"{dash}/>')
        else:
            bold = ' font-weight="bold"' if mark.bold else ""
            if mark.halo:
                bold += ' stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'
            out.append(f'<text x="{mark.x:.1f}" y="{mark.y:.1f}" text-anchor="{mark.anchor}" '
                       f'fill="{mark.fill}"{bold}>{e(mark.text)}</text>')
    out.append("</svg>")
    return "".join(out)


# --- PNG ----------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The messages' type family (app/fonts), from its shipped file: the same on every machine."""
    return ImageFont.truetype(fonts.face_file(bold), size)


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}  # Pillow: horizontal + baseline


def _draw_png(chart: ConsumptionChart, layout: Layout = EMAIL, scale: int = 2) -> tuple[bytes, int, int]:
    image = Image.new("RGB", (layout.width * scale, layout.height * scale), "white")
    draw = ImageDraw.Draw(image)
    for mark in _marks(chart, layout):
        if isinstance(mark, _Rect):
            right, bottom = mark.x + mark.width, mark.y + mark.height
            draw.rectangle([(round(mark.x * scale), round(mark.y * scale)),
                            (round(right * scale) - 1, round(bottom * scale) - 1)], fill=_rgb(mark.fill))
        elif isinstance(mark, _Rule):
            on, off = mark.dash or (mark.x2 - mark.x1, 0)
            x, y = mark.x1, mark.y * scale
            while x < mark.x2:
                end = min(x + on, mark.x2)
                draw.line([(x * scale, y), (end * scale, y)], fill=_rgb(mark.colour),
                          width=round(mark.width * scale))
                x = end + off
        else:
            halo = {"stroke_width": 2 * scale, "stroke_fill": (255, 255, 255)} if mark.halo else {}
            draw.text((mark.x * scale, mark.y * scale), mark.text, fill=_rgb(mark.fill),
                      font=_font(layout.font * scale, mark.bold), anchor=_ANCHORS[mark.anchor], **halo)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue(), image.width, image.height


def chart_drawing(chart: ConsumptionChart, store: ArtifactStore) -> tuple[Drawn, Asset | None]:
    """The chart's PNG: the stored one, or a new one to keep at commit (drawn.py)."""
    return draw_unstored(store, chart.key(EMAIL), lambda: _draw_png(chart))



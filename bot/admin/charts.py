"""Charts for the admin pages as inline SVG built on the server.

Why not a JavaScript chart library: the admin's CSP allows no inline script and the pages
work without JavaScript; an inline `<svg>` needs neither, prints, and is styled from
admin.css (classes only: `style-src 'self'` forbids style attributes). Every chart is a
`<figure>` whose SVG carries `role="img"` with a `<title>` and `<desc>` for screen readers,
followed by the same numbers as a table (in a `<details>`), so nothing is only a picture.
Labels come from course files and learners: all text goes through `markupsafe.escape`.

Pure functions of their arguments (no request, no store), so they are tested directly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 220  # horizontal bars: room for "12. A session title…" on the left
BAR_WIDTH = 360
ROW = 26
COLUMN_AREA = 150  # column charts: the height of the tallest column
_ids = itertools.count(1)  # unique ids for aria-labelledby within one page


@dataclass(frozen=True)
class Point:
    """One bar or column: its label, its value and an optional tooltip (e.g. an id)."""

    label: str
    value: float | None
    hint: str = ""


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    text = f"{value:g}"
    return f"{text} {unit}".strip() if unit and unit != "%" else text + unit


def _short(label: str, size: int) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def _figure(
    kind: str, title: str, desc: str, body: str, height: int, points: Sequence[Point], unit: str
) -> Markup:
    """The shared frame: figure, accessible svg, caption and the data table fallback."""
    n = next(_ids)
    rows = "".join(
        f"<tr><td{_hint(p)}>{escape(p.label)}</td><td>{escape(_number(p.value, unit))}</td></tr>"
        for p in points
    )
    return Markup(
        f'<figure class="chart chart-{kind}">'
        f'<svg role="img" aria-labelledby="chart-{n}-t chart-{n}-d" viewBox="0 0 {WIDTH} {height}"'
        f' width="100%" preserveAspectRatio="xMinYMin meet">'
        f'<title id="chart-{n}-t">{escape(title)}</title>'
        f'<desc id="chart-{n}-d">{escape(desc)}</desc>'
        f"{body}</svg>"
        f"<figcaption>{escape(title)}</figcaption>"
        '<details><summary>Data</summary><table class="data"><thead><tr><th>Item</th>'
        f"<th>Value</th></tr></thead><tbody>{rows}</tbody></table></details></figure>"
    )


def _hint(point: Point) -> str:
    return f' title="{escape(point.hint)}"' if point.hint else ""


def bar_chart(
    title: str, desc: str, points: Sequence[Point], unit: str = "", maximum: float | None = None
) -> Markup:
    """Horizontal bars, one row per point, scaled to `maximum` (default: the largest value;
    100 for percentages). A point without a value gets an empty track and "no data"."""
    top = maximum or max((p.value or 0 for p in points), default=0) or 1
    body = []
    for i, p in enumerate(points):
        y = i * ROW + 3
        w = round(BAR_WIDTH * min(p.value or 0, top) / top, 1)
        tip = f"{p.label}: {_number(p.value, unit)}"
        body.append(
            f'<text x="0" y="{y + 16}" class="label">{escape(_short(p.label, 30))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{BAR_WIDTH}" height="20" class="track"></rect>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{w}" height="20" class="bar">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text x="{LABEL_WIDTH + 6 + w}" y="{y + 15}" class="value">'
            f"{escape(_number(p.value, unit))}</text>"
        )
    return _figure("bars", title, desc, "".join(body), ROW * len(points) + 6, points, unit)


def column_chart(title: str, desc: str, points: Sequence[Point], unit: str = "") -> Markup:
    """Vertical columns left to right (a trend: one column per week), labelled below."""
    top = max((p.value or 0 for p in points), default=0) or 1
    step = WIDTH / max(len(points), 1)
    body = []
    for i, p in enumerate(points):
        h = round(COLUMN_AREA * (p.value or 0) / top, 1)
        x = round(i * step + step * 0.15, 1)
        w = round(step * 0.7, 1)
        y = 20 + COLUMN_AREA - h
        tip = f"{p.label}: {_number(p.value, unit)}"
        body.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" class="bar">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text x="{round(x + w / 2, 1)}" y="{y - 4}" class="value" text-anchor="middle">'
            f"{escape(_number(p.value, unit))}</text>"
            f'<text x="{round(x + w / 2, 1)}" y="{COLUMN_AREA + 36}" class="label"'
            f' text-anchor="middle">{escape(_short(p.label, 8))}</text>'
        )
    return _figure("columns", title, desc, "".join(body), COLUMN_AREA + 44, points, unit)

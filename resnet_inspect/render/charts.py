"""Small charts for the HTML report: geometry computed here, written as inline SVG by :func:`svg`.

Like :mod:`.diagrams`, a chart is laid out once into plain records (rectangles, polylines and
:class:`~.diagrams.TextBox` texts with estimated widths), so tests can check that no text overlaps
another, and the writer at the bottom only prints them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .diagrams import LABEL_SIZE, LINE, MARGIN, TITLE_SIZE, TextBox, _text_box, text_width

BAR_HEIGHT = 18.0
BAR_GAP = 8.0
BAR_SPAN = 300.0  # the longest bar
PLOT_HEIGHT = 180.0
PLOT_WIDTH = 900.0


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Polyline:
    points: tuple[tuple[float, float], ...]
    stroke: str
    width: float = 1.0
    dash: str = ""


@dataclass(frozen=True)
class Chart:
    title: str
    width: float
    height: float
    rects: tuple[Rect, ...]
    lines: tuple[Polyline, ...]
    texts: tuple[TextBox, ...]


def bar_chart(title: str, rows: list[tuple[str, float, str]], colour: str) -> Chart:
    """Horizontal bars, one per ``(label, value, value_text)``, longest bar ``BAR_SPAN`` px."""
    title_box = _text_box(title, MARGIN, MARGIN, TITLE_SIZE, bold=True)
    label_width = max((text_width(label, LABEL_SIZE) for label, _, _ in rows), default=0.0)
    top = title_box.y + title_box.height + 10
    bar_x = MARGIN + label_width + 10
    largest = max((value for _, value, _ in rows), default=0.0) or 1.0
    rects, texts = [], [title_box]
    for i, (label, value, value_text) in enumerate(rows):
        y = top + i * (BAR_HEIGHT + BAR_GAP)
        text_y = y + (BAR_HEIGHT - LABEL_SIZE * LINE) / 2
        length = max(1.0, BAR_SPAN * value / largest) if value > 0 else 0.0
        rects.append(Rect(bar_x, y, length, BAR_HEIGHT, colour))
        texts.append(_text_box(label, MARGIN, text_y, LABEL_SIZE))
        texts.append(_text_box(value_text, bar_x + length + 6, text_y, LABEL_SIZE))
    width = max(t.x + t.width for t in texts) + MARGIN
    height = top + len(rows) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP + MARGIN
    return Chart(title, width, height, tuple(rects), (), tuple(texts))


def line_chart(title: str, values: list[float], bands: list[tuple[str, int, int]], colour: str,
               value_text: Callable[[float], str], y_label: str, mark: int | None = None,
               mark_label: str = "") -> Chart:
    """One value per layer, in execution order, over bands naming the stages (first, last index).

    ``value_text`` formats the y-axis ticks (round steps from 0); ``y_label`` says what is
    plotted, above the axis; ``mark`` draws a dashed line at one index (a peak), with
    ``mark_label`` beside its top. A band too narrow for its name (the head's few layers) gets it
    on a second row, under a tick at the band's middle: every band is named.
    """
    title_box = _text_box(title, MARGIN, MARGIN, TITLE_SIZE, bold=True)
    y_label_box = _text_box(y_label, MARGIN, title_box.y + title_box.height + 4, LABEL_SIZE)
    step_value = nice_step(max(values, default=0.0) or 1.0)
    largest = step_value * math.ceil((max(values, default=0.0) or 1.0) / step_value)
    ticks = [(i * step_value, value_text(i * step_value)) for i in range(round(largest / step_value) + 1)]
    tick_width = max(text_width(text, LABEL_SIZE) for _, text in ticks)
    left = MARGIN + tick_width + 8
    top = y_label_box.y + y_label_box.height + 8
    bottom = top + PLOT_HEIGHT
    step = PLOT_WIDTH / max(1, len(values) - 1)

    def y_of(value: float) -> float:
        return bottom - PLOT_HEIGHT * value / largest

    texts, rects, lines = [title_box, y_label_box], [], []
    for value, text in ticks:
        y = y_of(value)
        texts.append(_text_box(text, left - 8 - text_width(text, LABEL_SIZE), y - LABEL_SIZE * LINE / 2, LABEL_SIZE))
        lines.append(Polyline(((left, y), (left + PLOT_WIDTH, y)), "#e2e8f0"))
    rows = 1
    for i, (name, first, last) in enumerate(bands):
        x0, x1 = left + first * step - step / 2 * (first > 0), left + last * step + step / 2 * (last < len(values) - 1)
        if i % 2:
            rects.append(Rect(x0, top, x1 - x0, PLOT_HEIGHT, "#f8fafc"))
        label = _text_box(name, (x0 + x1) / 2, bottom + 4, LABEL_SIZE, anchor="middle")
        if label.width <= x1 - x0 and not any(label.overlaps(t) for t in texts):
            texts.append(label)
            continue
        label, tick = _second_row(name, x0, x1, bottom, left, left + PLOT_WIDTH)
        if not any(label.overlaps(t) for t in texts):
            texts.append(label)
            lines.append(tick)
            rows = 2
    points = tuple((left + i * step, y_of(v)) for i, v in enumerate(values))
    lines.append(Polyline(((left, top), (left, bottom), (left + PLOT_WIDTH, bottom)), "#94a3b8"))
    if mark is not None:
        x = left + mark * step
        lines.append(Polyline(((x, top), (x, bottom)), "#475569", 1.0, "4 3"))
        if mark_label:
            texts.append(_mark_label(mark_label, x, top, left + PLOT_WIDTH))
    lines.append(Polyline(points, colour, 2.0))
    width = max(left + PLOT_WIDTH, *(t.x + t.width for t in texts)) + MARGIN
    height = bottom + 4 + rows * LABEL_SIZE * LINE + MARGIN
    return Chart(title, width, height, tuple(rects), tuple(lines), tuple(texts))


def _second_row(name: str, x0: float, x1: float, bottom: float, left: float, right: float) -> tuple[TextBox, Polyline]:
    """A narrow band's name one row down, centred under the band unless that leaves the plot, and
    a tick from the axis to it, so the name points at its band."""
    middle = (x0 + x1) / 2
    width = text_width(name, LABEL_SIZE)
    x = min(max(middle - width / 2, left), right - width)
    y = bottom + 4 + LABEL_SIZE * LINE
    return _text_box(name, x, y, LABEL_SIZE), Polyline(((middle, bottom), (middle, y)), "#94a3b8")


def _mark_label(text: str, x: float, top: float, right: float) -> TextBox:
    """The marked line's label at the top of the plot: right of the line, or left where the plot ends."""
    width = text_width(text, LABEL_SIZE)
    start = x + 4 if x + 4 + width <= right else x - 4 - width
    return _text_box(text, start, top + 2, LABEL_SIZE)


def nice_step(largest: float, ticks: int = 4) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` steps up to ``largest``."""
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def svg(chart: Chart) -> str:
    """The chart as an inline ``<svg>`` element."""
    from .diagram_render import LABEL_COLOUR, TEXT_COLOUR, _num, svg_text, xml
    from .diagram_render import FONT

    w, h = _num(chart.width), _num(chart.height)
    # width 100% of the page's column, at most the drawn width: the viewBox scales it to a narrow
    # window instead of cutting it (a 760 px window used to scroll the charts sideways, issue 18)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {w} {h}" '
           f'style="max-width: {w}px; height: auto" preserveAspectRatio="xMinYMin meet" '
           f'font-family="{xml(FONT)}" role="img" aria-label="{xml(chart.title)}">',
           f"<title>{xml(chart.title)}</title>"]
    for r in chart.rects:
        out.append(f'<rect x="{_num(r.x)}" y="{_num(r.y)}" width="{_num(r.width)}" height="{_num(r.height)}" '
                   f'fill="{r.fill}" rx="2"/>')
    for line in chart.lines:
        points = " ".join(f"{_num(x)},{_num(y)}" for x, y in line.points)
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        out.append(f'<polyline points="{points}" fill="none" stroke="{line.stroke}" '
                   f'stroke-width="{_num(line.width)}"{dash} stroke-linejoin="round"/>')
    for i, text in enumerate(chart.texts):
        out.append(svg_text(text, TEXT_COLOUR if i == 0 else LABEL_COLOUR))
    out.append("</svg>")
    return "\n".join(out) + "\n"

"""Server-rendered SVG charts for the browser pages: pure functions from numbers to markup.

The Content-Security-Policy forbids inline styles and scripts, so the SVG carries only presentation
attributes and classes (static/css/redline.css: svg.chart .bar/.point/.interval/.axis/.grid). Every label is
escaped. Each chart is accessible: role="img" with a <title> and <desc>, and the same numbers in a table
beside it (`Chart.table`), which is what a screen reader or a copy-paste reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Interval chart geometry (viewBox units): labels on the left, the 0-100% axis to their right.
INTERVAL_WIDTH = 720
INTERVAL_LABEL_WIDTH = 300
INTERVAL_AXIS_LEFT = INTERVAL_LABEL_WIDTH + 10
INTERVAL_AXIS_RIGHT = INTERVAL_WIDTH - 20
INTERVAL_ROW_HEIGHT = 28
INTERVAL_TOP = 10
WHISKER = 6

# Bar chart geometry.
BAR_WIDTH = 720
BAR_HEIGHT = 240
BAR_LEFT = 40
BAR_RIGHT = BAR_WIDTH - 10
BAR_TOP = 20
BAR_BOTTOM = BAR_HEIGHT - 40


@dataclass(frozen=True)
class Chart:
    """An SVG chart and the table with the same numbers (both already escaped)."""

    svg: SafeString
    table: SafeString


@dataclass(frozen=True)
class Bar:
    """One bar. `value` None means suppressed (a small cross-organisation count): drawn as a marker, not a
    height, and `display` says what is shown instead (e.g. "<5")."""

    label: str
    value: int | None
    display: str


@dataclass(frozen=True)
class IntervalRow:
    """One estimate: successes out of trials with its 95% interval (fractions 0-1)."""

    label: str
    successes: int
    trials: int
    lower: float
    upper: float

    @property
    def point(self) -> float:
        return self.successes / self.trials if self.trials else 0.0


def _pct(value: float) -> str:
    return f"{round(value * 100):d}"


def interval_text(successes: int, trials: int, lower: float, upper: float) -> str:
    """ "5/10 (50%, 95% CI 24-76%)"."""
    point = successes / trials if trials else 0.0
    return f"{successes}/{trials} ({_pct(point)}%, 95% CI {_pct(lower)}-{_pct(upper)}%)"


def interval_x(fraction: float) -> float:
    """Where a fraction 0-1 sits on the interval chart's axis (clamped)."""
    fraction = min(1.0, max(0.0, fraction))
    return round(INTERVAL_AXIS_LEFT + fraction * (INTERVAL_AXIS_RIGHT - INTERVAL_AXIS_LEFT), 2)


def _svg_open(chart_id: str, width: int, height: int, title: str, desc: str) -> SafeString:
    return format_html(
        '<svg class="chart" role="img" viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg" '
        'aria-labelledby="{}-title {}-desc" focusable="false">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>',
        width,
        height,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        desc,
    )


def _table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], hidden: bool) -> SafeString:
    head = format_html_join("", '<th scope="col">{}</th>', ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html(
                    '<th scope="row">{}</th>{}',
                    row[0],
                    format_html_join("", "<td>{}</td>", ((cell,) for cell in row[1:])),
                ),
            )
            for row in rows
        ),
    )
    css = "table table-sm chart-table visually-hidden" if hidden else "table table-sm chart-table"
    return format_html(
        '<table class="{}"><caption>{}</caption><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        css,
        caption,
        head,
        body,
    )


def interval_chart(
    *, chart_id: str, title: str, desc: str, rows: Sequence[IntervalRow], table_hidden: bool = True
) -> Chart:
    """One row per estimate: a horizontal line with whiskers from the lower to the upper 95% bound and a
    point at successes/trials, over an axis from 0 to 100%."""
    chart_id = escape(chart_id)
    height = INTERVAL_TOP + max(1, len(rows)) * INTERVAL_ROW_HEIGHT + 30
    axis_y = height - 24
    parts: list[str] = [_svg_open(chart_id, INTERVAL_WIDTH, height, title, desc)]
    for tick in (0, 25, 50, 75, 100):
        x = interval_x(tick / 100)
        parts.append(
            format_html(
                '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="middle">{}%</text>',
                x,
                INTERVAL_TOP,
                x,
                axis_y,
                x,
                axis_y + 16,
                tick,
            )
        )
    parts.append(
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>',
            INTERVAL_AXIS_LEFT,
            axis_y,
            INTERVAL_AXIS_RIGHT,
            axis_y,
        )
    )
    for index, row in enumerate(rows):
        y = INTERVAL_TOP + index * INTERVAL_ROW_HEIGHT + INTERVAL_ROW_HEIGHT / 2
        x1, x2, xp = interval_x(row.lower), interval_x(row.upper), interval_x(row.point)
        text = interval_text(row.successes, row.trials, row.lower, row.upper)
        parts.append(
            format_html(
                '<g class="interval-row"><title>{}: {}</title>'
                '<text x="{}" y="{}" text-anchor="end">{}</text>'
                '<line class="interval" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<line class="interval whisker" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<line class="interval whisker" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<circle class="point" cx="{}" cy="{}" r="4"></circle></g>',
                row.label,
                text,
                INTERVAL_LABEL_WIDTH,
                y + 4,
                _truncate(row.label, 44),
                x1,
                y,
                x2,
                y,
                x1,
                y - WHISKER,
                x1,
                y + WHISKER,
                x2,
                y - WHISKER,
                x2,
                y + WHISKER,
                xp,
                y,
            )
        )
    parts.append(mark_safe("</svg>"))
    table = _table(
        title,
        ("Item", "Result"),
        [(row.label, interval_text(row.successes, row.trials, row.lower, row.upper)) for row in rows],
        table_hidden,
    )
    return Chart(svg=mark_safe("".join(parts)), table=table)  # noqa: S308 - every part is format_html


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_x(index: int, count: int) -> tuple[float, float]:
    """Left edge and width of bar `index` of `count` (a fifth of each slot is a gap)."""
    slot = (BAR_RIGHT - BAR_LEFT) / max(1, count)
    return round(BAR_LEFT + index * slot + slot * 0.1, 2), round(slot * 0.8, 2)


def bar_height(value: int, maximum: int) -> float:
    return round((BAR_BOTTOM - BAR_TOP) * value / maximum, 2) if maximum > 0 else 0.0


def bar_chart(
    *, chart_id: str, title: str, desc: str, bars: Sequence[Bar], table_hidden: bool = True
) -> Chart:
    """A vertical bar chart of counts (e.g. incidents per month). A suppressed bar (value None) is drawn
    as a dashed marker at the baseline labelled with its display text, never with a height."""
    chart_id = escape(chart_id)
    maximum = max((bar.value for bar in bars if bar.value is not None), default=0)
    parts: list[str] = [_svg_open(chart_id, BAR_WIDTH, BAR_HEIGHT, title, desc)]
    parts.append(
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
            '<text x="{}" y="{}" text-anchor="end">{}</text><text x="{}" y="{}" text-anchor="end">0</text>',
            BAR_LEFT,
            BAR_BOTTOM,
            BAR_RIGHT,
            BAR_BOTTOM,
            BAR_LEFT,
            BAR_TOP,
            BAR_LEFT,
            BAR_BOTTOM,
            BAR_LEFT - 4,
            BAR_TOP + 4,
            maximum,
            BAR_LEFT - 4,
            BAR_BOTTOM,
        )
    )
    for index, bar in enumerate(bars):
        x, width = bar_x(index, len(bars))
        centre = round(x + width / 2, 2)
        if bar.value is None:
            shape = format_html(
                '<rect class="bar-suppressed" x="{}" y="{}" width="{}" height="6" fill="none" '
                'stroke="#6c757d" stroke-dasharray="3 2"></rect>'
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                x,
                BAR_BOTTOM - 6,
                width,
                centre,
                BAR_BOTTOM - 10,
                bar.display,
            )
        else:
            height = bar_height(bar.value, maximum)
            shape = format_html(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}"></rect>'
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                x,
                round(BAR_BOTTOM - height, 2),
                width,
                height,
                centre,
                round(BAR_BOTTOM - height - 4, 2),
                bar.display,
            )
        parts.append(
            format_html(
                '<g><title>{}: {}</title>{}<text x="{}" y="{}" text-anchor="middle">{}</text></g>',
                bar.label,
                bar.display,
                shape,
                centre,
                BAR_BOTTOM + 16,
                _truncate(bar.label, 10),
            )
        )
    parts.append(mark_safe("</svg>"))
    table = _table(title, ("Period", "Count"), [(bar.label, bar.display) for bar in bars], table_hidden)
    return Chart(svg=mark_safe("".join(parts)), table=table)  # noqa: S308 - every part is format_html

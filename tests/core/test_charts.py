"""The server-rendered SVG charts (core.charts): geometry, labels, escaping, accessibility, strict CSP."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from core.charts import (
    BAR_BOTTOM,
    INTERVAL_AXIS_LEFT,
    INTERVAL_AXIS_RIGHT,
    Bar,
    IntervalRow,
    bar_chart,
    interval_chart,
    interval_text,
    interval_x,
)
from registry.stats import wilson_interval

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own markup


def _row(label: str = "Model-1", successes: int = 5, trials: int = 10) -> IntervalRow:
    lower, upper = wilson_interval(successes, trials)
    return IntervalRow(label=label, successes=successes, trials=trials, lower=lower, upper=upper)


def test_the_label_reads_counts_point_and_interval_in_percent():
    lower, upper = wilson_interval(5, 10)

    assert interval_text(5, 10, lower, upper) == "5/10 (50%, 95% CI 24-76%)"


def test_a_fifty_percent_point_sits_in_the_middle_of_the_axis():
    chart = interval_chart(chart_id="c", title="t", desc="d", rows=[_row()])

    [circle] = _parse(chart.svg).iter(f"{SVG}circle")
    assert float(circle.get("cx")) == pytest.approx((INTERVAL_AXIS_LEFT + INTERVAL_AXIS_RIGHT) / 2)


def test_the_interval_line_ends_at_the_wilson_bounds():
    lower, upper = wilson_interval(9, 10)
    chart = interval_chart(chart_id="c", title="t", desc="d", rows=[_row(successes=9)])

    lines = [line for line in _parse(chart.svg).iter(f"{SVG}line") if line.get("class") == "interval"]
    [line] = lines
    span = INTERVAL_AXIS_RIGHT - INTERVAL_AXIS_LEFT
    assert float(line.get("x1")) == pytest.approx(INTERVAL_AXIS_LEFT + lower * span, abs=0.01)
    assert float(line.get("x2")) == pytest.approx(INTERVAL_AXIS_LEFT + upper * span, abs=0.01)
    whiskers = [
        line for line in _parse(chart.svg).iter(f"{SVG}line") if line.get("class") == "interval whisker"
    ]
    assert sorted(float(w.get("x1")) for w in whiskers) == pytest.approx(
        [float(line.get("x1")), float(line.get("x2"))]
    )


def test_the_axis_runs_from_zero_to_a_hundred_percent_and_clamps():
    assert interval_x(0) == INTERVAL_AXIS_LEFT
    assert interval_x(1) == INTERVAL_AXIS_RIGHT
    assert interval_x(1.5) == INTERVAL_AXIS_RIGHT
    assert interval_x(-1) == INTERVAL_AXIS_LEFT


def test_a_hostile_model_name_is_escaped_in_the_chart_and_the_table():
    name = '<script>alert("x")</script> & Co'
    chart = interval_chart(chart_id="c", title=f"Rates of {name}", desc="d", rows=[_row(label=name)])

    for markup in (chart.svg, chart.table):
        assert "<script>" not in markup
        assert "&lt;script&gt;" in markup
    _parse(chart.svg)  # still well-formed XML


def test_bar_labels_are_escaped_too():
    chart = bar_chart(chart_id="b", title="t", desc="d", bars=[Bar(label="<b>x</b>", value=3, display="3")])

    assert "<b>" not in chart.svg and "&lt;b&gt;" in chart.svg
    assert "<b>" not in chart.table


def test_the_chart_is_an_accessible_image_with_a_title_and_description():
    chart = interval_chart(chart_id="rates", title="Success rates", desc="Five results", rows=[_row()])

    root = _parse(chart.svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "rates-title rates-desc"
    assert root.find(f"{SVG}title").get("id") == "rates-title"
    assert root.find(f"{SVG}title").text == "Success rates"
    assert root.find(f"{SVG}desc").text == "Five results"
    assert "<caption>Success rates</caption>" in chart.table
    assert '<th scope="row">Model-1</th><td>5/10 (50%, 95% CI 24-76%)</td>' in chart.table


def test_no_inline_style_anywhere_for_the_strict_csp():
    charts = [
        interval_chart(chart_id="c", title="t", desc="d", rows=[_row(), _row(successes=0)]),
        bar_chart(chart_id="b", title="t", desc="d", bars=[Bar("Jan", 4, "4"), Bar("Feb", None, "<5")]),
    ]
    for chart in charts:
        assert not re.search(r"style\s*=|<style|<script", chart.svg + chart.table)


def test_bar_heights_are_proportional_and_a_suppressed_bar_has_no_height():
    chart = bar_chart(
        chart_id="b",
        title="t",
        desc="d",
        bars=[Bar("Jan", 10, "10"), Bar("Feb", 5, "5"), Bar("Mar", None, "<5")],
    )

    root = _parse(chart.svg)
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    heights = [float(b.get("height")) for b in bars]
    assert heights[0] == pytest.approx(2 * heights[1])
    assert float(bars[0].get("y")) + float(bars[0].get("height")) == pytest.approx(BAR_BOTTOM)
    [suppressed] = [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar-suppressed"]
    assert suppressed.get("fill") == "none"
    assert "&lt;5" in chart.svg
    assert '<th scope="row">Mar</th><td>&lt;5</td>' in chart.table

"""The SVG charts, without an app: escaping, degenerate series, negative values, and output
that a strict XML parser reads and the site's CSP allows (no script, no style attribute)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from gateway.dashboard.charts import Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def child(el: ET.Element, tag: str) -> ET.Element:
    found = el.find(f"{SVG}{tag}")
    assert found is not None, tag
    return found


def text(el: ET.Element, tag: str) -> str:
    return child(el, tag).text or ""


def num(el: ET.Element, name: str) -> float:
    value = el.get(name)
    assert value is not None, name
    return float(value)


def bars(svg: str) -> list[ET.Element]:
    return [r for r in parse(svg).iter(f"{SVG}rect") if r.get("class") == "bar"]


def points(svg: str) -> list[ET.Element]:
    return [c for c in parse(svg).iter(f"{SVG}circle") if c.get("class") == "point"]


@pytest.mark.parametrize("draw", [line_chart, bar_chart])
def test_labels_titles_and_names_are_escaped(draw):
    """Can a label, title or series name with <, & and quotes not break out of the SVG?"""
    hostile = "<script>alert(\"x\")</script> & 'q'"
    svg = draw("c1", f"Title {hostile}", [hostile, "b"], [Series(hostile, [1, 2])])
    assert "<script" not in svg and 'alert("x")' not in svg
    assert "&lt;script&gt;" in svg and "&amp;" in svg and "&#34;" in svg
    root = parse(svg)  # well-formed: escaping kept the markup intact
    assert text(root, "title") == f"Title {hostile}"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert hostile in texts  # as a legend entry and an x label, shown literally


@pytest.mark.parametrize("draw", [line_chart, bar_chart])
def test_no_script_and_no_style_attribute(draw):
    """Does the markup need nothing the CSP forbids (script, inline style)?"""
    svg = draw("c1", "T", ["a", "b", "c"], [Series("s", [1, -2, 3]), Series("t", [0, 5, 1])])
    assert "<script" not in svg and "style=" not in svg and " on" not in svg.replace("\n", " ")


@pytest.mark.parametrize("draw", [line_chart, bar_chart])
@pytest.mark.parametrize(
    "labels,series",
    [([], []), (["a"], []), ([], [Series("s", [])])],
    ids=["none", "no-series", "no-labels"],
)
def test_empty_input_draws_a_labelled_placeholder(draw, labels, series):
    """Does an empty chart say "No data", keep its title, and draw no bar or point?"""
    svg = draw("empty", "Nothing here", labels, series)
    root = parse(svg)
    assert text(root, "title") == "Nothing here"
    assert [t.text for t in root.iter(f"{SVG}text")] == ["No data"]
    assert bars(svg) == [] and points(svg) == []


def test_a_single_point_is_drawn_in_the_middle():
    """Is a one-point line a visible marker in the middle of the plot?"""
    svg = line_chart("one", "One", ["only"], [Series("s", [7])])
    (point,) = points(svg)
    assert num(point, "cx") == pytest.approx(60 + (720 - 60 - 16) / 2)
    assert text(point, "title") == "only, s: 7"


def test_bar_and_point_counts_follow_the_input():
    """One bar per label and series; one marker and one line per series."""
    labels = [f"w{i}" for i in range(26)]
    series = [Series(n, list(range(26))) for n in ("a", "b", "c")]
    assert len(bars(bar_chart("b", "B", labels, series))) == 78
    line = line_chart("l", "L", labels, series[:2])
    assert len(points(line)) == 52
    assert len([p for p in parse(line).iter(f"{SVG}polyline")]) == 2


def test_negative_and_zero_values():
    """Do negative bars hang below the zero line, and is a zero bar flat on it?"""
    svg = bar_chart("neg", "Net", ["a", "b", "c"], [Series("s", [Decimal("-5.50"), 0, 10])])
    root = parse(svg)
    zero = next(
        num(g, "y1")
        for g in root.iter(f"{SVG}line")
        if g.get("class") == "grid" and g.get("stroke") == "#5d6678"
    )
    neg, flat, pos = bars(svg)
    assert num(neg, "y") == pytest.approx(zero) and num(neg, "height") > 0
    assert num(flat, "height") == 0 and num(flat, "y") == pytest.approx(zero)
    assert num(pos, "y") + num(pos, "height") == pytest.approx(zero)
    ticks = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks[0].startswith("-") and "0" in ticks and "-0" not in ticks


def test_all_zero_values_still_have_an_axis():
    """Can a chart of zeros be drawn (no division by zero), with whole-number ticks?"""
    svg = line_chart("z", "Z", ["a", "b"], [Series("s", [0, 0])])
    ticks = [t.text for t in parse(svg).iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks == ["0", "1"]


def test_money_ticks_and_titles_keep_their_decimals():
    """Are amounts shown with two decimals and thousands separators?"""
    svg = bar_chart("m", "M", ["Jan"], [Series("USD", [Decimal("1234.5")])], decimals=2)
    assert text(bars(svg)[0], "title") == "Jan, USD: 1,234.50"


def test_output_is_deterministic():
    """Does the same input give the same bytes (so tests and caches can compare them)?"""
    args = ("d", "D", ["a", "b"], [Series("s", [1.1, 2.2])])
    assert line_chart(*args) == line_chart(*args)
    assert bar_chart(*args) == bar_chart(*args)
    coordinates = re.findall(r' (?:c?[xy]|[xy][12]|width|height)="([^"]*)"', bar_chart(*args))
    assert coordinates and all(re.fullmatch(r"-?\d+(\.\d)?", c) for c in coordinates)


def test_accessible_name_and_description():
    """Is each chart an image named by its title and described in words?"""
    root = parse(bar_chart("acc", "Open flags", ["x"], [Series("Open", [3])]))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "acc-title acc-desc"
    assert child(root, "title").get("id") == "acc-title"
    assert "Bar chart of Open for 1 entry" in text(root, "desc")


@pytest.mark.parametrize(
    "chart_id,labels,series",
    [
        ('x" onload="a', ["a"], [Series("s", [1])]),  # an id that would open an attribute
        ("ok", ["a", "b"], [Series("s", [1])]),  # fewer values than labels
        ("ok", ["a"], [Series("s", [float("nan")])]),
    ],
)
def test_bad_input_is_refused(chart_id, labels, series):
    """Are a hostile id, mismatched lengths and NaN refused rather than drawn?"""
    with pytest.raises(ValueError):
        bar_chart(chart_id, "T", labels, series)

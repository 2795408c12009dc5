"""One page's text: front matter, the preview cut at the marker, sanitised HTML. The paid
part after the marker must never reach the preview, and nothing a page says may run."""

from __future__ import annotations

import datetime

import pytest

from gateway.access_rules.table import Who
from gateway.content.render import PageError, render_page, split_at_marker

PAID = "PAID-PART-7f3a"


def page(text: str, allow_html: bool = False):
    return render_page(text, allow_html=allow_html)


# --- front matter ---------------------------------------------------------------------


def test_front_matter_keys():
    p = page(
        "---\ntitle: The Guide\nsummary: How to start\ndate: 2026-02-03\n"
        "access: [premium, pro]\nunknown: ignored\n---\n# Heading\n\nText\n"
    )
    assert p.title == "The Guide"
    assert p.summary == "How to start"
    assert p.date == datetime.date(2026, 2, 3)
    assert p.access == Who(roles=frozenset({"premium", "pro"}))
    assert "---" not in p.body_html and "unknown" not in p.body_html


@pytest.mark.parametrize(
    ("value", "who"),
    [
        ("public", Who(public=True)),
        ("members", Who(members=True)),
        ("premium", Who(roles=frozenset({"premium"}))),
        ("Premium, Pro", Who(roles=frozenset({"premium", "pro"}))),
        ("[pro]", Who(roles=frozenset({"pro"}))),
    ],
)
def test_access_values(value, who):
    assert page(f"---\naccess: {value}\n---\nx\n").access == who


def test_no_front_matter_means_no_access_and_first_heading_title():
    p = page("Intro line\n\n# The *Real* `Title`\n\n## Later\n")
    assert p.access is None
    assert p.title == "The Real Title"
    assert p.summary == "" and p.date is None


def test_no_heading_leaves_the_title_to_the_caller():
    assert page("just text\n").title is None
    assert page("---\ntitle: ''\n---\ntext\n").title is None


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2026-01-31", datetime.date(2026, 1, 31)),
        ("'2026-01-31'", datetime.date(2026, 1, 31)),
        ("2026-01-31 10:30:00", datetime.date(2026, 1, 31)),
    ],
)
def test_dates(date, expected):
    assert page(f"---\ndate: {date}\n---\nx\n").date == expected


@pytest.mark.parametrize(
    ("front", "says"),
    [
        ("access: public members", "access"),
        ("access: ''", "access"),
        ("access:", "access"),
        ("access: yes", "access"),
        ("access: [premium, 3]", "access"),
        ("access: 'bad role!'", "role name"),
        ("date: next tuesday", "date"),
        ("date: 2026-13-01", "month must be"),
        ("date: 20", "date"),
        ("title: [a, b]", "title"),
        ("summary: {a: b}", "summary"),
    ],
)
def test_bad_front_matter_values_refuse_the_page(front, says):
    with pytest.raises(PageError, match=says):
        page(f"---\n{front}\n---\nx\n")


def test_bad_yaml_names_the_line():
    with pytest.raises(PageError, match="line 3"):
        page("---\ntitle: ok\naccess: [premium\n---\nbody\n")


def test_front_matter_must_be_a_mapping_and_closed():
    with pytest.raises(PageError, match="mapping"):
        page("---\n- a\n- b\n---\nx\n")
    with pytest.raises(PageError, match="never closed"):
        page("---\ntitle: x\n\nbody without an end\n")


def test_empty_front_matter_is_fine():
    assert page("---\n---\nbody\n").access is None


# --- the marker -----------------------------------------------------------------------


def test_preview_is_the_text_before_the_marker():
    p = page(f"---\naccess: premium\n---\n# T\n\nFree part.\n<!-- more -->\n{PAID}\n")
    assert p.has_more
    assert "Free part." in p.preview_html and "Free part." in p.body_html
    assert PAID in p.body_html
    assert PAID not in p.preview_html
    assert "more" not in p.body_html  # the marker is gone, not shown as text


@pytest.mark.parametrize("marker", ["<!-- more -->", "  <!--MORE-->  ", "<!--   More -->\t"])
def test_marker_spellings(marker):
    p = page(f"free\n{marker}\n{PAID}\n")
    assert p.has_more and PAID not in p.preview_html and PAID in p.body_html


def test_marker_in_text_is_not_a_marker():
    p = page(f"free <!-- more --> {PAID}\n")
    assert not p.has_more and p.preview_html == ""


def test_without_marker_there_is_no_preview():
    p = page(f"# Title\n\n{PAID}\n")
    assert not p.has_more and p.preview_html == "" and PAID in p.body_html


@pytest.mark.parametrize("fence", ["```", "~~~", "````"])
def test_marker_inside_fenced_code_does_not_count(fence):
    text = f"free\n\n{fence}html\n<!-- more -->\n{fence}\n\nafter code\n<!-- more -->\n{PAID}\n"
    p = page(text)
    assert p.has_more
    assert "after code" in p.preview_html  # split at the second, real marker
    assert "&lt;!-- more --&gt;" in p.preview_html  # the fenced one stays as code
    assert PAID not in p.preview_html and PAID in p.body_html


def test_a_shorter_run_does_not_close_a_fence():
    p = page(f"````\n```\n<!-- more -->\n````\n\nfree\n<!-- more -->\n{PAID}\n")
    assert "free" in p.preview_html and PAID not in p.preview_html


def test_unclosed_html_before_the_marker_cannot_pull_the_paid_part_in():
    text = f"<div>\nfree\n<!-- more -->\n{PAID}\n</div>\n"
    for allow_html in (False, True):
        p = page(text, allow_html)
        assert PAID not in p.preview_html and PAID in p.body_html


def test_reference_definitions_after_the_marker_do_not_reach_the_preview():
    p = page(f"see [the secret][s]\n<!-- more -->\n[s]: https://example.com/{PAID}\n")
    assert PAID not in p.preview_html
    assert f"https://example.com/{PAID}" in p.body_html


def test_marker_line_keeps_paragraphs_apart():
    p = page("one\n<!-- more -->\ntwo\n")
    assert "<p>one</p>" in p.body_html and "<p>two</p>" in p.body_html


def test_title_comes_from_the_preview_not_the_paid_part():
    p = page(f"intro\n<!-- more -->\n# {PAID}\n")
    assert p.title is None


def test_split_at_marker_blanks_every_marker():
    before, whole = split_at_marker("a\n<!-- more -->\nb\n<!-- more -->\nc\n")
    assert before == "a\n" and "more" not in whole


# --- Markdown and sanitising ----------------------------------------------------------


def test_tables_strikethrough_and_code():
    p = page("| a | b |\n|--:|---|\n| 1 | 2 |\n\n~~gone~~\n\n```python\nx = 1\n```\n")
    assert "<table>" in p.body_html and 'style="text-align:right"' in p.body_html
    assert "<s>gone</s>" in p.body_html
    assert "<pre><code>x = 1\n</code></pre>" in p.body_html


ATTACKS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">x</a>',
    "[link](javascript:alert(4))",
    '<a href="JaVaScRiPt:alert(5)">y</a>',
    "<iframe src=https://evil.example></iframe>",
    '<p onclick="alert(6)">p</p>',
    "<style>body{display:none}</style>",
    '<svg onload="alert(7)"></svg>',
    '<video src=x onerror="alert(8)"></video>',
    "![i](javascript:alert(9))",
    '<a href="java&#x73;cript:alert(10)">z</a>',
]


@pytest.mark.parametrize("allow_html", [False, True])
@pytest.mark.parametrize("attack", ATTACKS)
def test_nothing_runs_in_either_mode(attack, allow_html):
    text = f"{attack}\n\n{attack}\n<!-- more -->\n{attack}\n"
    p = page(text, allow_html)
    for html in (p.preview_html, p.body_html):
        lowered = html.lower()
        for tag in ("<script", "<iframe", "<style", "<svg"):
            assert tag not in lowered, html  # shown as `&lt;script` at most
        tags = _tags(lowered)
        assert "onerror" not in tags and "onclick" not in tags and "onload" not in tags, html
        assert "javascript:" not in tags, html


def _tags(html: str) -> str:
    """Only the markup inside real tags (text shown as `&lt;...` is harmless)."""
    return " ".join(part.split(">", 1)[0] for part in html.split("<")[1:])


def test_raw_html_is_text_when_off():
    p = page("<b>bold</b> and <script>x</script>\n")
    assert "&lt;b&gt;" in p.body_html and "&lt;script&gt;" in p.body_html


def test_raw_html_on_keeps_media_and_drops_scripts():
    text = (
        '<video controls width="640" src="/files/talk.mp4" onplay="alert(1)">'
        '<source src="/files/talk.webm" type="video/webm"></video>\n\n'
        '<audio controls src="/files/ep1.mp3"></audio>\n\n'
        '<figure><img src="/a.png" alt="A"><figcaption>Cap</figcaption></figure>\n\n'
        "<script>alert(1)</script><b>kept</b>\n"
    )
    html = page(text, allow_html=True).body_html
    assert '<video controls="" width="640" src="/files/talk.mp4">' in html
    assert '<source src="/files/talk.webm" type="video/webm">' in html
    assert '<audio controls="" src="/files/ep1.mp3">' in html
    assert "<figcaption>Cap</figcaption>" in html and "<b>kept</b>" in html
    assert "onplay" not in html and "script" not in html and "alert" not in html


def test_media_tags_are_not_allowed_when_html_is_off():
    # Even if Markdown let them through, the narrow allowlist would drop the player.
    html = page("<video src=/x.mp4></video>\n").body_html
    assert "<video" not in html


def test_links_get_noopener():
    html = page('[site](https://example.com "Title")\n').body_html
    assert 'rel="noopener noreferrer"' in html and 'title="Title"' in html


def test_style_is_only_table_alignment():
    text = '| a |\n|:-:|\n| 1 |\n\n<td style="position:fixed">x</td>\n'
    html = page(text, allow_html=True).body_html
    assert "text-align:center" in html and "position" not in html

"""One Markdown page, from its text to what may be shown: front matter, the preview
cut at the `<!-- more -->` marker, and sanitised HTML. Pure: text in, data out.

The preview is rendered from the source text before the marker, never cut out of the
rendered page: an unclosed tag, a reference link or a raw HTML block cannot carry the
paid part into it.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..access_rules.table import BadRule, Who

MARKER = re.compile(r"^\s*<!--\s*more\s*-->\s*$", re.IGNORECASE)
#: A fence opens with ``` or ~~~ (indented at most three spaces) and closes with at
#: least as many of the same character and nothing else.
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
FRONT_MATTER_LINE = "---"

#: Raw HTML (the owner's switch) may add players for media; never script, style, frames,
#: event handlers or other URL schemes (nh3 drops those whatever the lists say).
MEDIA_TAGS = {"video", "audio", "source", "track", "figure", "figcaption"}
MEDIA_ATTRIBUTES = {
    "video": {"controls", "src", "poster", "width", "height", "preload", "loop", "muted"},
    "audio": {"controls", "src", "preload", "loop", "muted"},
    "source": {"src", "type", "media"},
    "track": {"src", "kind", "srclang", "label", "default"},
}


class PageError(ValueError):
    """Why a page cannot be served; the message names the line when there is one."""


@dataclass(frozen=True)
class Rendered:
    """Everything about a page that its text alone decides (not its place or file)."""

    title: str | None  # None: the caller names it after the file
    summary: str
    date: datetime.date | None
    access: Who | None
    preview_html: str
    body_html: str
    has_more: bool


def render_page(text: str, *, allow_html: bool = False) -> Rendered:
    """The page in `text` (a whole .md file), or PageError saying what is wrong."""
    meta, body = split_front_matter(text)
    title = meta.get("title")
    summary = meta.get("summary")
    summary = "" if summary is None else summary
    if not isinstance(title, str | int | float | type(None)) or isinstance(title, bool):
        raise PageError("front matter: title must be text")
    if not isinstance(summary, str):
        raise PageError("front matter: summary must be text")
    access = parse_access(meta["access"]) if "access" in meta else None
    date = parse_date(meta["date"]) if "date" in meta else None

    preview_source, whole = split_at_marker(body)
    md = _markdown(allow_html)
    body_tokens = md.parse(whole)
    body_html = _clean(md.renderer.render(body_tokens, md.options, {}), allow_html)
    if preview_source is None:
        preview_html = ""
        heading = first_heading(body_tokens)
    else:
        preview_tokens = md.parse(preview_source)
        preview_html = _clean(md.renderer.render(preview_tokens, md.options, {}), allow_html)
        # The title is public: take it from the preview only, never from the paid part.
        heading = first_heading(preview_tokens)
    title_text = str(title).strip() if title is not None else ""
    return Rendered(
        title=title_text or heading,
        summary=summary.strip(),
        date=date,
        access=access,
        preview_html=preview_html,
        body_html=body_html,
        has_more=preview_source is not None,
    )


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The front matter as a mapping ({} without one) and the Markdown after it."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != FRONT_MATTER_LINE:
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].rstrip() == FRONT_MATTER_LINE:
            break
    else:
        raise PageError("line 1: front matter opened with --- is never closed by a --- line")
    try:
        meta = yaml.safe_load("".join(lines[1:end]))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        if (mark is None or mark.line >= end - 1) and e.context_mark is not None:
            mark = e.context_mark  # the error shows at the end: name where it began
        where = f"line {mark.line + 2}" if mark is not None else "front matter"
        raise PageError(f"{where}: front matter is not valid YAML ({e.problem or e})")
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as e:
        # Well-formed YAML can still fail to load: `2026-13-01` is read as a date.
        raise PageError(f"front matter cannot be read ({e})")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise PageError("front matter must be `key: value` lines (a mapping)")
    return {str(k): v for k, v in meta.items()}, "".join(lines[end + 1 :])


def parse_access(value: object) -> Who:
    """`access:` as the rule table reads it; anything unclear refuses the page."""
    if isinstance(value, str):
        words: str | Sequence[str] = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        words = value
    else:
        raise PageError("front matter: access must be a role, a list of roles, members or public")
    try:
        return Who.parse(words)
    except BadRule as e:
        raise PageError(f"front matter: access: {e}")


def parse_date(value: object) -> datetime.date:
    if isinstance(value, datetime.datetime):  # a subclass of date: test it first
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PageError(f"front matter: date {value!r} is not a date like 2026-01-31")


def split_at_marker(body: str) -> tuple[str | None, str]:
    """(the text before the first marker, or None without one; the whole text with every
    marker line blanked). Markers inside fenced code are text, not markers."""
    lines = body.splitlines(keepends=True)
    before: str | None = None
    kept: list[str] = []
    for line, is_marker in _marker_lines(lines):
        if is_marker:
            if before is None:
                before = "".join(kept)
            kept.append("\n")  # a blank line: the paragraphs on either side stay apart
        else:
            kept.append(line)
    return before, "".join(kept)


def _marker_lines(lines: Iterable[str]) -> Iterable[tuple[str, bool]]:
    fence: str | None = None  # the run of ` or ~ that opened the current fence
    for line in lines:
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
            yield line, bool(MARKER.match(line)) and not match
        else:
            run = match.group(1) if match else ""
            if run[:1] == fence[0] and len(run) >= len(fence) and not line.strip().strip(run[0]):
                fence = None
            yield line, False


def first_heading(tokens: Sequence[Token]) -> str | None:
    """The plain text of the first level-one heading, if any."""
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1" and i + 1 < len(tokens):
            parts = [
                " " if child.type in ("softbreak", "hardbreak") else child.content
                for child in tokens[i + 1].children or ()
                if child.type in ("text", "code_inline", "softbreak", "hardbreak")
            ]
            return " ".join("".join(parts).split()) or None
    return None


_MARKDOWN: dict[bool, MarkdownIt] = {}


def _markdown(allow_html: bool) -> MarkdownIt:
    md = _MARKDOWN.get(allow_html)
    if md is None:
        md = MarkdownIt("commonmark", {"html": allow_html, "linkify": False})
        md = _MARKDOWN[allow_html] = md.enable("table").enable("strikethrough")
    return md


def _allowlists(allow_html: bool) -> tuple[set[str], dict[str, set[str]]]:
    tags = set(nh3.ALLOWED_TAGS)
    attributes = copy.deepcopy(nh3.ALLOWED_ATTRIBUTES)
    # Markdown's own output: link and image titles, table column alignment.
    attributes.setdefault("a", set()).add("title")
    attributes.setdefault("img", set()).add("title")
    attributes.setdefault("th", set()).add("style")
    attributes.setdefault("td", set()).add("style")
    if allow_html:
        tags |= MEDIA_TAGS
        for tag, names in MEDIA_ATTRIBUTES.items():
            attributes.setdefault(tag, set()).update(names)
    return tags, attributes


_ALLOWLISTS = {flag: _allowlists(flag) for flag in (False, True)}


def _clean(html: str, allow_html: bool) -> str:
    tags, attributes = _ALLOWLISTS[allow_html]
    return nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
    )

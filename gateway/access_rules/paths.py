"""One canonical form for every path a rule is matched against, worked out exactly once.

A rule protects what a web server would serve for a path. Servers and the sites behind
them disagree on what two spellings mean the same resource (nginx merges slashes and
resolves dot segments; Tomcat drops `;params`; Windows drops trailing dots and ignores
case; some apps fold Unicode compatibility characters). So the canonical form merges at
least everything any of them merges, and anything still ambiguous is refused
(`BadPath`): a spelling can never reach a protected resource under a public rule. The
price is that a few odd spellings are judged as the protected path they resemble.

Steps, in this order: cut the query and fragment (raw URIs only); percent-decode once,
as UTF-8; refuse what is still an escape (`%2e` from `%252e`), control and invisible
characters; fold Unicode (NFKC) and case (the Turkish i's as i); `\\` counts as `/`; drop
`;params` from each segment, and trailing dots and spaces (a segment of dots alone is
refused); resolve `.` and `..` (above the root: refused); merge empty segments. The
result starts with `/` and has no trailing slash but `/` itself.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

#: After one decoding, a `%` that still reads as an escape means the path was encoded
#: twice (or in IIS's `%u` form): what a second decoder would see is not what we see.
STILL_ESCAPED = re.compile(r"%(?:[0-9a-fA-F]{2}|[uU])")
MAX_LENGTH = 4096
ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadPath(ValueError):
    """A path that cannot be given one meaning; the gate answers 400 for it."""


def canonical_path(path: str, *, raw: bool = False) -> str:
    """The canonical form of `path`: a raw request target (`raw=True`: still
    percent-encoded, maybe with a query, as proxies forward `X-Original-URI`) or a path
    already decoded once (WSGI's PATH_INFO, as latin-1 text of its bytes)."""
    if len(path) > MAX_LENGTH:
        raise BadPath("path too long")
    if raw:
        path = path.split("#", 1)[0].split("?", 1)[0]
        data = unquote_to_bytes(path)
    else:
        try:  # WSGI gives the path's bytes as latin-1 text
            data = path.encode("latin-1")
        except UnicodeEncodeError:
            raise BadPath("not a WSGI path") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("not UTF-8 after decoding") from None
    return canonical_text(text)


def canonical_text(text: str) -> str:
    """The canonical form of an already decoded path (a rule's pattern uses it too)."""
    if STILL_ESCAPED.search(text):
        raise BadPath("encoded twice")
    if text.isascii():  # the usual case: NFKC changes no ASCII, and case is lower()
        if ASCII_CONTROL.search(text):
            raise BadPath("control character in a path")
        text = text.lower()
    else:
        for ch in text:
            category = unicodedata.category(ch)
            if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
                raise BadPath(f"character U+{ord(ch):04X} not allowed in a path")
        text = unicodedata.normalize("NFKC", text).casefold()
        # Casefold can undo NFKC (e.g. "ﬅ"). The Turkish i's count as i: NTFS compares
        # names upper-cased, where the dotless ı is I; İ casefolds to i + a combining dot.
        text = unicodedata.normalize("NFKC", text).replace("\u0131", "i").replace("i\u0307", "i")
    if not text.startswith(("/", "\\")):
        raise BadPath("a path starts with /")
    segments: list[str] = []
    for part in text.replace("\\", "/").split("/"):
        part = part.split(";", 1)[0]  # Tomcat's path parameters: `..;/` is `../`
        if part in ("", "."):
            continue
        if part == "..":
            if not segments:
                raise BadPath("above the root")
            segments.pop()
            continue
        kept = part.rstrip(". ")  # Windows drops trailing dots and spaces
        if not kept:  # "...", ".. ": a dot segment to some servers, a name to others
            raise BadPath("a segment of dots")
        segments.append(kept)
    return "/" + "/".join(segments)


def canonical_host(host: str) -> str:
    """A Host header's name as rules name it: lower case, no port, no trailing dot."""
    name = host.strip().lower()
    if name.startswith("["):  # an IPv6 literal keeps its colons
        return name.split("]", 1)[0] + "]"
    return name.rsplit(":", 1)[0].rstrip(".") if ":" in name else name.rstrip(".")

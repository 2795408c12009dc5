"""Decode a form body in the charset it names (PayPal buttons carry a `charset` field)."""

from __future__ import annotations

import codecs
from urllib.parse import parse_qsl


def decode_form(raw: bytes, default: str = "utf-8") -> dict[str, str]:
    """Parse `raw` with the charset its own `charset` field names (ASCII-safe to find)."""
    charset = default
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if key == "charset":
            charset = value.strip() or default
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = default
    return dict(
        parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding=charset, errors="replace")
    )

"""PayPal's wire formats: ids, money, Pacific-time dates, form encoding in a charset; and
the stand-in's own yes/no settings."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")
_ALNUM = string.ascii_uppercase + string.digits


def new_id(prefix: str = "", length: int = 17) -> str:
    """An id in PayPal's alphabet: upper-case letters and digits (txn ids are 17 chars)."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def money(value: Decimal | str) -> str:
    return f"{Decimal(value):.2f}"


def ipn_date(at: datetime) -> str:
    """`payment_date` as PayPal writes it: `18:13:35 Apr 17, 2012 PDT` in US Pacific time."""
    local = at.astimezone(PACIFIC)
    return local.strftime("%H:%M:%S %b %d, %Y ") + ("PDT" if local.dst() else "PST")


def rfc3339(at: datetime) -> str:
    """REST time format: UTC with a Z, whole seconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Accept PayPal's RFC 3339 forms (Z or offset, optional fraction); ValueError if not."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time zone missing")
    return value.astimezone(UTC)


def encode_form(fields: list[tuple[str, str]], charset: str) -> bytes:
    """Form-encode in the account's charset, in the given field order (as PayPal sends)."""
    return "&".join(
        f"{quote_plus(k, encoding=charset)}={quote_plus(v, encoding=charset)}" for k, v in fields
    ).encode("ascii")


def flag(value: Any) -> bool:
    """A yes/no from JSON, a form field or the environment ("1", "true", "on", true ...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)

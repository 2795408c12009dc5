"""PayPal's JSON, read strictly: RFC 3339 times, exact amounts and ids, typed access by path.

Shared by the readers of webhook events, API answers and Transaction Search rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

#: `2026-01-15T12:00:00Z`, `...12:00:00.123456789+02:00`: seconds required, `T` and an offset
#: (or Z) required, ASCII digits only (RFC 3339 §5.6).
RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
#: PayPal's money `value`: a plain decimal string, at most 32 characters.
AMOUNT_RE = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
#: What the database holds (Numeric(12, 2)); anything larger is not a real payment.
MAX_AMOUNT = Decimal(10) ** 10
#: PayPal's ids (I-..., P-..., sale and refund ids) are at most 50 characters; ours hold 64.
MAX_ID = 64


def parse_rfc3339(text: object) -> datetime | None:
    """An RFC 3339 time -> aware UTC; nothing -> None; ValueError if it is anything else.

    Stricter than `datetime.fromisoformat`: no date alone, no naive time, no week dates.
    Fractions beyond microseconds are cut, not rounded.
    """
    if text is None or text == "":
        return None
    m = RFC3339_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {_show(text)}")
    yyyy, mo, dd, hh, mi, ss, frac, zulu, sign, oh, om = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        local = datetime(int(yyyy), int(mo), int(dd), int(hh), int(mi), int(ss), micro)
        if zulu:
            return local.replace(tzinfo=UTC)
        if int(oh) > 23 or int(om) > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        return (local - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"not an RFC 3339 time: {_show(text)}") from None


def rfc3339(at: datetime) -> str:
    """The canonical form used in keys and documents: UTC, whole seconds, `Z`."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no place in PayPal's times")
    u = at.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number PayPal sends")


def load_object(body: bytes) -> dict[str, Any]:
    """The JSON object in `body` (numbers as exact decimals); ValueError if it is not one."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, bad UTF-8, an integer too long to convert
        raise ValueError(f"not JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but a {type(data).__name__}")
    return data


@dataclass(frozen=True)
class Json:
    """Typed access to one JSON object by dotted path (`"amount.total"`).

    Missing and null read as empty; a value of the wrong type is a ValueError (the whole
    message is unreadable). Times that cannot be read are noted in `unreadable` and read as
    None, so the caller falls back to the receipt time, as `ipn.IpnMessage.date` does.
    """

    data: dict[str, Any]
    unreadable: list[str] = field(default_factory=list)

    def raw(self, path: str) -> Any:
        value: Any = self.data
        for part in path.split("."):
            if value is None:
                return None
            if not isinstance(value, dict):
                raise ValueError(f"{path}: {part!r} is inside a {type(value).__name__}")
            value = value.get(part)
        return value

    def text(self, path: str) -> str:
        value = self.raw(path)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError(f"{path} is not a string: {_show(value)}")
        return value.strip()

    def ident(self, path: str) -> str:
        """A PayPal id: a string of at most MAX_ID characters."""
        value = self.text(path)
        if len(value) > MAX_ID:
            raise ValueError(f"{path} is too long for a PayPal id: {_show(value)}")
        return value

    def obj(self, path: str) -> Json:
        value = self.raw(path)
        if value is None:
            return Json({}, self.unreadable)
        if not isinstance(value, dict):
            raise ValueError(f"{path} is not an object: {_show(value)}")
        return Json(value, self.unreadable)

    def items(self, path: str) -> list[Json]:
        value = self.raw(path)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ValueError(f"{path} is not a list of objects: {_show(value)}")
        return [Json(v, self.unreadable) for v in value]

    def flag(self, path: str) -> bool:
        value = self.raw(path)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ValueError(f"{path} is not true or false: {_show(value)}")
        return value

    def count(self, path: str) -> int | None:
        value = self.raw(path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{path} is not a whole number: {_show(value)}")
        return value

    def amount(self, path: str) -> Decimal | None:
        """A money value (PayPal sends strings; plain JSON numbers are read exactly too)."""
        value = self.raw(path)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValueError(f"{path} is not an amount: {_show(value)}")
        text = str(value).strip()
        try:
            if len(text) > 32 or not AMOUNT_RE.fullmatch(text):
                raise InvalidOperation
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{path} is not an amount: {_show(value)}") from None
        if abs(amount) >= MAX_AMOUNT:
            raise ValueError(f"{path} is out of range: {_show(value)}")
        return amount

    def time(self, *paths: str) -> datetime | None:
        """The first of these fields that holds a readable time; unreadable ones are noted."""
        for path in paths:
            try:
                value = parse_rfc3339(self.raw(path))
            except ValueError as e:
                self.unreadable.append(f"{path}: {e}")
                continue
            if value is not None:
                return value
        return None

    def stamp(self, *paths: str) -> str:
        """The first of these times as a key part: canonical if readable, else as written."""
        for path in paths:
            raw = self.raw(path)
            try:
                value = parse_rfc3339(raw)
            except ValueError:
                return str(raw)[:MAX_ID]
            if value is not None:
                return rfc3339(value)
        return ""


def date_warnings(unreadable: list[str]) -> tuple[str, ...]:
    return tuple(f"unreadable date, dated by its receipt instead ({w})" for w in unreadable)

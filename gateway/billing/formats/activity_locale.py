"""How one Activity Download writes dates, times and amounts, learnt as its rows are read.

Locales differ in dates (MM/DD/YYYY in the US, DD/MM/YYYY in the UK and Europe,
DD.MM.YYYY in Germany) and decimal marks ("1.234,56"). A date that could be either
day/month or month/day is never guessed: the order comes from the caller, else the
header's language (`activity_csv.py`), else the time zone (US or European), else from the
file's first date that can only be read one way (and said so in `notes`); until then an
ambiguous date is a problem of its row. Decimal marks are learnt the same way.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Zone abbreviations PayPal writes, as UTC offsets in hours.
ZONES = {
    "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6, "CDT": -5, "EST": -5, "EDT": -4,
    "AKST": -9, "AKDT": -8, "HST": -10, "GMT": 0, "UTC": 0, "Z": 0, "BST": 1, "WET": 0,
    "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "JST": 9, "AEST": 10, "AEDT": 11,
    "AWST": 8, "NZST": 12, "NZDT": 13, "HKT": 8, "SGT": 8,
}  # fmt: skip
US_ZONES = {"PST", "PDT", "MST", "MDT", "CST", "CDT", "EST", "EDT", "AKST", "AKDT", "HST"}
EU_ZONES = {"GMT", "BST", "WET", "WEST", "CET", "CEST", "EET", "EEST"}
#: The download's legacy times are US Pacific (docs/paypal.md §9).
PACIFIC = "America/Los_Angeles"
DATE_RE = re.compile(r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})", re.ASCII)
TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?", re.ASCII)
OFFSET_RE = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", re.ASCII)
AMOUNT_RE = re.compile(r"\d[\d.,]*|[.,]\d+", re.ASCII)
PLAIN_AMOUNT_RE = re.compile(r"-?\d{1,9}\.\d\d", re.ASCII)
#: Thousands separators PayPal's locales use besides "." and ",".
SPACES = str.maketrans("", "", " \u00a0\u202f'\u2009")


class DateOrder(enum.StrEnum):
    MDY = "MDY"
    DMY = "DMY"
    YMD = "YMD"


class ActivityLocale:
    """A file's date order and decimal mark: given, or learnt from its rows; `notes` says
    what was decided, and why."""

    def __init__(self, date_order: DateOrder | None, decimal_mark: str | None) -> None:
        self.notes: list[str] = []
        self.order, self.mark = date_order, decimal_mark
        if date_order:
            self.notes.append(f"dates read as {date_order.value} (as asked)")
        self._zones: dict[str, tzinfo] = {}

    def _decide(self, order: DateOrder, why: str) -> None:
        self.order = order
        self.notes.append(f"dates read as {order.value} ({why})")

    # -- dates and times --------------------------------------------------------------

    def moment(self, date: str, time: str, zone: str, line: int) -> datetime:
        where = self.zone(zone)  # first: a US or European zone may settle the date order
        y, mo, d = self.date(date, line)
        h = mi = s = 0
        if time:
            t = TIME_RE.fullmatch(time)
            if t is None:
                raise ValueError(f"time {time[:20]!r} is not HH:MM:SS")
            h, mi, s = int(t[1]), int(t[2]), int(t[3] or 0)
            if t[4]:
                h = h % 12 + (12 if t[4].lower() == "pm" else 0)
        try:
            local = datetime(y, mo, d, h, mi, s)
        except ValueError:
            raise ValueError(f"{date} {time} is not a real date and time") from None
        return local.replace(tzinfo=where).astimezone(UTC)

    def date(self, text: str, line: int) -> tuple[int, int, int]:
        m = DATE_RE.fullmatch(text)
        if m is None:
            raise ValueError(f"date {text[:20]!r} is not a date")
        a, sep, b, c = m[1], m[2], int(m[3]), m[4]
        if len(a) == 4:
            return int(a), b, int(c)
        if len(c) not in (2, 4):
            raise ValueError(f"date {text[:20]!r} has no year of 2 or 4 digits")
        first, year = int(a), int(c) + (2000 if len(c) == 2 else 0)
        if sep == ".":  # DD.MM.YYYY: nobody writes month-first with dots
            return year, b, first
        if self.order is None and first != b:
            if first > 12 >= b:
                self._decide(DateOrder.DMY, f"line {line}: {text} can only be day/month")
            elif b > 12 >= first:
                self._decide(DateOrder.MDY, f"line {line}: {text} can only be month/day")
            else:
                raise ValueError(
                    f"ambiguous date {text}: day/month or month/day? Nothing in the file "
                    "says which yet; import again with the date format given (DMY or MDY)"
                )
        return (year, first, b) if self.order is not DateOrder.DMY else (year, b, first)

    def zone(self, text: str) -> tzinfo:
        key = text.strip() or PACIFIC
        if key in self._zones:
            return self._zones[key]
        upper = key.upper()
        if upper in ZONES:
            found: tzinfo = _fixed(ZONES[upper] * 60)
            if self.order is None and (upper in US_ZONES or upper in EU_ZONES):
                us = upper in US_ZONES
                self._decide(DateOrder.MDY if us else DateOrder.DMY, f"{key} times")
        elif m := OFFSET_RE.fullmatch(upper):
            minutes = int(m[2]) * 60 + int(m[3] or 0)
            found = _fixed(minutes if m[1] == "+" else -minutes)
        else:
            try:
                found = ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {key[:40]!r}") from None
        self._zones[key] = found
        return found

    # -- amounts ------------------------------------------------------------------------

    def amount(self, text: str, what: str) -> Decimal:
        """ "9.00", "-1,234.56", "1.234,56", "9,00", "1 234,56", "(9.00)"."""
        if PLAIN_AMOUNT_RE.fullmatch(text) and self.mark != ",":
            if self.mark is None:
                self._learn(".", text, what)
            return Decimal(text)  # "9.00", "-0.56": most rows of most files
        s = text.translate(SPACES)
        negative = s[:1] in ("-", "\u2212") or s[-1:] == "-" or (s[:1] == "(" and s[-1:] == ")")
        s = s.strip("-\u2212()")
        if not AMOUNT_RE.fullmatch(s):
            raise ValueError(f"{what} {text[:30]!r} is not an amount")
        mark = self._mark_of(s, text, what)
        other = "," if mark == "." else "."
        digits = s.replace(other, "").replace(mark, ".") if mark else s
        try:
            value = Decimal(digits)
        except InvalidOperation:
            raise ValueError(f"{what} {text[:30]!r} is not an amount") from None
        return -value if negative else value

    def _mark_of(self, s: str, text: str, what: str) -> str:
        """The decimal mark `s` uses ("" for a whole number), learning the file's."""
        marks = [c for c in s if c in ".,"]
        if not marks:
            return ""
        if len(set(marks)) == 2:  # "1,234.56": the last one is the decimal mark
            return self._learn(marks[-1], text, what)
        mark = marks[0]
        if len(marks) > 1:  # "1,234,567": thousands separators
            return self._learn("," if mark == "." else ".", text, what)
        before, after = s.split(mark)
        if len(after) != 3 or before in ("", "0"):
            return self._learn(mark, text, what)
        if self.mark is None:
            raise ValueError(
                f"ambiguous {what} {text!r}: is {mark!r} a decimal mark or a thousands "
                "separator? Nothing in the file says which yet"
            )
        return self.mark

    def _learn(self, mark: str, text: str, what: str) -> str:
        if self.mark is None:
            self.mark = mark
            self.notes.append(f"decimal mark {mark!r} (from {what} {text!r})")
        elif self.mark != mark:
            raise ValueError(
                f"{what} {text!r} uses {mark!r} as decimal mark, earlier rows {self.mark!r}"
            )
        return mark


def _fixed(minutes: int) -> tzinfo:
    return timezone(timedelta(minutes=minutes))

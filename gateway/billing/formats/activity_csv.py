"""PayPal's Activity Download (CSV), pure: rows read into `Reported` transactions.

Columns are found by header name, without regard to case, spaces or punctuation
("TimeZone", "Time zone"), because PayPal lets merchants choose columns and warns that
positions change (docs/paypal.md §9). Locales differ in dates (MM/DD/YYYY in the US,
DD/MM/YYYY in the UK and Europe, DD.MM.YYYY in Germany) and decimal marks ("1.234,56").
A date that could be either day/month or month/day is never guessed: the order comes
from the caller, else the header's language (UK or US column names), else the time
zone (US or European), else from the file's first date that can only be read one way
(and said so in `notes`); until then an ambiguous date is a problem of its row. Decimal
marks are learnt the same way. Memo rows (no money moved) are skipped.

Reading is row by row over a text stream: nothing holds the file.
"""

from __future__ import annotations

import csv
import enum
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .reconcile import Reported, Said, TxnKind
from .reported import TXN_ID_RE, looks_like_subscription

SOURCE = "Activity CSV"
#: Our names for the columns we read -> the normalised header names that mean them.
COLUMNS = {
    "date": ("date",),
    "time": ("time",),
    "zone": ("timezone",),
    "type": ("type",),
    "status": ("status",),
    "currency": ("currency",),
    "gross": ("gross",),
    "fee": ("fee",),
    "from_email": ("fromemailaddress",),
    "txn_id": ("transactionid",),
    "reference": ("referencetxnid", "referencetransactionid"),
    "custom": ("customnumber", "customfield", "custom"),
    "item": ("itemid",),
    "impact": ("balanceimpact",),
}
REQUIRED = ("date", "txn_id", "gross", "currency")
#: Column names only the UK (DD/MM/YYYY) or only the US (MM/DD/YYYY) download uses.
UK_HEADER = {"time zone", "postage and packaging amount", "vat", "postcode", "county"}
US_HEADER = {"timezone", "shipping and handling amount", "sales tax", "zip/postal code"}
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
STATUS_WORDS = {
    "completed": Said.COMPLETED,
    "cleared": Said.COMPLETED,
    "pending": Said.PENDING,
    "uncleared": Said.PENDING,
    "held": Said.PENDING,
    "placed": Said.PENDING,
    "unclaimed": Said.PENDING,
    "refunded": Said.REFUNDED,
    "partiallyrefunded": Said.PARTIALLY_REFUNDED,
    "reversed": Said.REVERSED,
    **dict.fromkeys(
        ("denied", "declined", "failed", "canceled", "cancelled", "voided", "expired", "removed"),
        Said.DENIED,
    ),
}
DATE_RE = re.compile(r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})", re.ASCII)
TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?", re.ASCII)
OFFSET_RE = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", re.ASCII)
CURRENCY_RE = re.compile(r"[A-Z]{3}", re.ASCII)
AMOUNT_RE = re.compile(r"\d[\d.,]*|[.,]\d+", re.ASCII)
PLAIN_AMOUNT_RE = re.compile(r"-?\d{1,9}\.\d\d", re.ASCII)
#: Thousands separators PayPal's locales use besides "." and ",".
SPACES = str.maketrans("", "", " \u00a0\u202f'\u2009")


class DateOrder(enum.StrEnum):
    MDY = "MDY"
    DMY = "DMY"
    YMD = "YMD"


class HeaderError(ValueError):
    """The file has no header naming the columns a payment needs."""


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str


@dataclass(frozen=True)
class Problem:
    """A row that cannot be read, and why (reported with its line, never a crash)."""

    line: int
    message: str


Row = Reported | Skipped | Problem


def normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.replace("\ufeff", "").casefold())


def find_columns(header: Sequence[str]) -> dict[str, int]:
    names = {normalise(h): i for i, h in reversed(list(enumerate(header)))}
    return {ours: names[n] for ours, variants in COLUMNS.items() for n in variants if n in names}


class ActivityFile:
    """The reading of one file's rows, given its header; learns date order and decimal
    mark as described above. `notes` says what was decided, and why."""

    def __init__(
        self,
        header: Sequence[str],
        *,
        date_order: DateOrder | None = None,
        decimal_mark: str | None = None,
        source: str = SOURCE,
    ) -> None:
        self.header = [h.replace("\ufeff", "").strip() for h in header]
        self.columns = find_columns(header)
        missing = [c for c in REQUIRED if c not in self.columns]
        if missing:
            raise HeaderError(f"the header names no {', '.join(missing)} column")
        self.source, self.notes = source, []
        self.order, self.mark = date_order, decimal_mark
        if date_order:
            self.notes.append(f"dates read as {date_order.value} (as asked)")
        else:
            spoken = {" ".join(h.replace("\ufeff", "").casefold().split()) for h in header}
            uk, us = bool(spoken & UK_HEADER), bool(spoken & US_HEADER)
            if uk != us:
                self._decide(
                    DateOrder.DMY if uk else DateOrder.MDY, f"a {'UK' if uk else 'US'} header"
                )
        self._zones: dict[str, tzinfo] = {}
        if "zone" not in self.columns:
            self.notes.append("no time zone column: times read as US Pacific")
        if "status" not in self.columns:
            self.notes.append("no status column: rows read as completed")

    def _decide(self, order: DateOrder, why: str) -> None:
        self.order = order
        self.notes.append(f"dates read as {order.value} ({why})")

    def read(self, row: Sequence[str], line: int) -> Row:
        if not any(cell.strip() for cell in row):
            return Skipped(line, "blank line")
        try:
            return self._read(row, line)
        except ValueError as e:
            return Problem(line, str(e))

    def _read(self, row: Sequence[str], line: int) -> Row:
        n = len(row)
        cells = {name: row[i].strip() if i < n else "" for name, i in self.columns.items()}

        def get(name: str) -> str:
            return cells.get(name, "")

        if get("impact").casefold() == "memo":
            return Skipped(line, "memo (no money moved)")
        txn_id = get("txn_id")
        if not TXN_ID_RE.fullmatch(txn_id):
            raise ValueError(f"transaction id {txn_id[:70]!r} is not a PayPal id")
        gross = self.amount(get("gross"), "gross")
        kind = kind_of(get("type"), gross, bool(get("reference")))
        if kind is TxnKind.OTHER:
            return Skipped(line, f"{get('type') or 'untyped'} row (not a payment to us)")
        status = STATUS_WORDS.get(normalise(get("status")) or "completed")
        if status is None:
            raise ValueError(f"unknown status {get('status')[:40]!r}")
        currency = get("currency").upper()
        if not CURRENCY_RE.fullmatch(currency):
            raise ValueError(f"currency {currency[:10]!r} is not a currency code")
        reference = get("reference")
        if kind is not TxnKind.PAYMENT and not reference:
            raise ValueError(f"{kind.value} {txn_id} names no original transaction")
        try:
            fee = abs(self.amount(get("fee"), "fee")) if get("fee") else None
        except ValueError:
            fee = None  # never compared; a fee we cannot read is no reason to refuse the row
        return Reported(
            txn_id=txn_id,
            kind=kind,
            status=status,
            amount=gross,
            currency=currency,
            at=self.moment(get("date"), get("time"), get("zone"), line),
            source=f"{self.source} line {line}",
            current=False,
            fee=fee,
            subscription_ref=reference
            if kind is TxnKind.PAYMENT and looks_like_subscription(reference)
            else "",
            parent_txn_id=reference if kind is not TxnKind.PAYMENT else "",
            custom=get("custom")[:127],
            payer_email=get("from_email")[:254],
            item=get("item")[:127],
            code=get("type")[:64],
            raw={"line": line, **{h: c for h, c in zip(self.header, row, strict=False) if c}},
        )

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


def kind_of(type_text: str, gross: Decimal, has_reference: bool) -> TxnKind:
    """What a row's `Type` means for us; the sign decides what words alone cannot."""
    t = " ".join(type_text.casefold().split())
    if "fee" in t or "hold" in t or "conversion" in t:
        return TxnKind.OTHER
    if "refund" in t:
        return TxnKind.REFUND if gross < 0 else TxnKind.OTHER
    if (
        ("reversal" in t or "chargeback" in t)
        and gross > 0
        and ("cancel" in t or "chargeback" in t)
    ):
        return TxnKind.REVERSAL_CANCEL
    if "reversal" in t or "chargeback" in t:
        return TxnKind.REVERSAL if gross < 0 else TxnKind.OTHER
    if ("payment" in t or "donation" in t or not t) and gross > 0:
        return TxnKind.PAYMENT
    if not t and gross < 0 and has_reference:
        return TxnKind.REFUND
    return TxnKind.OTHER


class ActivityReader:
    """Rows of one Activity CSV text stream, read one at a time (header found in the
    first 20 lines; comma, semicolon or tab separated)."""

    HEADER_SEARCH = 20

    def __init__(
        self,
        text: TextIO,
        *,
        date_order: DateOrder | None = None,
        decimal_mark: str | None = None,
        source: str = SOURCE,
    ) -> None:
        first = text.readline()
        counts = {d: first.count(d) for d in (",", ";", "\t")}
        delimiter = max(counts, key=lambda d: counts[d])
        self._rows = csv.reader(itertools.chain([first], text), delimiter=delimiter)
        for _ in range(self.HEADER_SEARCH):
            header = next(self._rows, None)
            if header is None:
                break
            names = {normalise(h) for h in header}
            if "date" in names and "transactionid" in names:
                self.file = ActivityFile(
                    header, date_order=date_order, decimal_mark=decimal_mark, source=source
                )
                return
        raise HeaderError(
            "no header row naming Date and Transaction ID in the first "
            f"{self.HEADER_SEARCH} lines: is this PayPal's Activity Download?"
        )

    @property
    def notes(self) -> list[str]:
        return self.file.notes

    def __iter__(self) -> Iterator[Row]:
        stuck = 0
        while True:
            try:
                row = next(self._rows)
            except StopIteration:
                return
            except csv.Error as e:
                stuck += 1
                yield Problem(self._rows.line_num, f"not CSV: {e}")
                if stuck > 100:
                    return
                continue
            stuck = 0
            yield self.file.read(row, self._rows.line_num)

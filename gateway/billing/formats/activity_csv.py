"""PayPal's Activity Download (CSV), pure: rows read into `Reported` transactions.

Columns are found by header name, without regard to case, spaces or punctuation
("TimeZone", "Time zone"), because PayPal lets merchants choose columns and warns that
positions change (docs/paypal.md §9). Dates and amounts are read as the file's locale
writes them (`activity_locale.py`), never guessed; a UK or US header settles the date
order. Memo rows (no money moved) are skipped.

Reading is row by row over a text stream: nothing holds the file.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

from .activity_locale import ActivityLocale, DateOrder
from .reported import TXN_ID_RE, looks_like_subscription
from .reported_transaction import Reported, Said, TxnKind

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
CURRENCY_RE = re.compile(r"[A-Z]{3}", re.ASCII)


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


class ActivityFile(ActivityLocale):
    """The reading of one file's rows, given its header; learns date order and decimal
    mark as `ActivityLocale` does. `notes` says what was decided, and why."""

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
        super().__init__(date_order, decimal_mark)
        self.source = source
        if not date_order:
            spoken = {" ".join(h.replace("\ufeff", "").casefold().split()) for h in header}
            uk, us = bool(spoken & UK_HEADER), bool(spoken & US_HEADER)
            if uk != us:
                self._decide(
                    DateOrder.DMY if uk else DateOrder.MDY, f"a {'UK' if uk else 'US'} header"
                )
        if "zone" not in self.columns:
            self.notes.append("no time zone column: times read as US Pacific")
        if "status" not in self.columns:
            self.notes.append("no status column: rows read as completed")

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

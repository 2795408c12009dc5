"""Hand-written Activity Downloads in PayPal's locale variants, rendered from the stand-in's
own transactions (so that they describe the same account as its US download)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

KINDS = {
    "payment": "Subscription Payment",
    "refund": "Payment Refund",
    "reversal": "Payment Reversal",
    "reversal_cancel": "Cancellation of Reversal",
}


@dataclass(frozen=True)
class Locale:
    zone: str
    date: str  # strftime of the date column
    decimal: str
    delimiter: str
    zone_column: str
    extra_columns: tuple[str, ...]


US = Locale(
    "America/Los_Angeles", "%m/%d/%Y", ".", ",", "TimeZone", ("Sales Tax", "Zip/Postal Code")
)
UK = Locale("Europe/London", "%d/%m/%Y", ".", ",", "Time zone", ("VAT", "Postcode"))
DE = Locale("Europe/Berlin", "%d.%m.%Y", ",", ";", "TimeZone", ())


def amount(value: Decimal, mark: str) -> str:
    text = f"{value:,.2f}"  # 1,234.56
    if mark == ",":
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")  # 1.234,56
    return text


def rows(transactions: list[dict], locale: Locale, *, memo: bool = False) -> list[dict]:
    out = []
    zone = ZoneInfo(locale.zone)
    for t in sorted(transactions, key=lambda t: t["time"]):
        at = datetime.fromisoformat(t["time"].replace("Z", "+00:00")).astimezone(zone)
        gross, fee = Decimal(t["amount"]), -Decimal(t["fee"])
        row = {
            "Date": at.strftime(locale.date),
            "Time": at.strftime("%H:%M:%S"),
            locale.zone_column: at.tzname(),
            "Name": "José Müller",
            "Type": KINDS[t["kind"]],
            "Status": "Completed",
            "Currency": t["currency"],
            "Gross": amount(gross, locale.decimal),
            "Fee": amount(fee, locale.decimal),
            "Net": amount(gross + fee, locale.decimal),
            "From Email Address": "buyer@example.com",
            "To Email Address": "merchant@example.com",
            "Transaction ID": t["id"],
            "Reference Txn ID": t["parent_txn_id"] or t["subscription_id"],
            "Balance Impact": "Credit" if gross > 0 else "Debit",
        }
        if memo and t["kind"] == "payment":
            # PayPal lists an authorization before the money moves: no money, same id.
            out.append(
                row
                | {"Type": "General Authorization", "Status": "Pending", "Balance Impact": "Memo"}
            )
        out.append(row)
    # A big conversion row that is no payment to us: read (the amount parses), then skipped.
    out.append(
        out[-1]
        | {
            "Type": "General Currency Conversion",
            "Gross": amount(Decimal("-1234.56"), locale.decimal),
            "Transaction ID": "CONVERSION0000001",
        }
    )
    return out


def render(
    transactions: list[dict],
    locale: Locale = US,
    *,
    bom: bool = False,
    memo: bool = False,
    bad_row: bool = False,
) -> bytes:
    found = rows(transactions, locale, memo=memo)
    if bad_row:
        found.insert(1, found[0] | {"Date": "31/31/2026", "Transaction ID": "BADROW0000000001"})
    header = list(found[0]) + list(locale.extra_columns)
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        header,
        delimiter=locale.delimiter,
        quoting=csv.QUOTE_ALL,
        lineterminator="\r\n",
        restval="",
    )
    writer.writeheader()
    writer.writerows(found)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def zipped(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def split(data: bytes, at: int) -> tuple[bytes, bytes]:
    """A download cut in two after `at` rows, each part with the header (PayPal's ZIP)."""
    lines = data.decode("utf-8-sig").splitlines(keepends=True)
    return "".join(lines[: at + 1]).encode(), "".join(lines[:1] + lines[at + 1 :]).encode()

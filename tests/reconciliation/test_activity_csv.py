"""Reading PayPal's Activity Download, pure: columns by name, locales, never a guess."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.billing.formats.activity_csv import (
    ActivityFile,
    ActivityReader,
    HeaderError,
    Problem,
    Skipped,
)
from gateway.billing.formats.activity_locale import DateOrder
from gateway.billing.formats.reported_transaction import Reported, Said, TxnKind

US = ["Date", "Time", "TimeZone", "Type", "Status", "Currency", "Gross", "Transaction ID",
      "Reference Txn ID", "Balance Impact"]  # fmt: skip
UK = ["Date", "Time", "Time zone", "Type", "Status", "Currency", "Gross", "Transaction ID",
      "Reference Txn ID", "Postcode", "VAT"]  # fmt: skip
PLAIN = ["Date", "Time", "Type", "Currency", "Gross", "Transaction ID"]


def row(date="01/15/2026", time="04:00:00", zone="PST", kind="Subscription Payment",
        status="Completed", currency="USD", gross="9.00", txn="TXN00000000000001",
        ref="I-ABCDEFGH", impact="Credit") -> list[str]:  # fmt: skip
    return [date, time, zone, kind, status, currency, gross, txn, ref, impact]


def read(header, *rows, **options):
    f = ActivityFile(header, **options)
    return f, [f.read(r, n) for n, r in enumerate(rows, 2)]


def test_columns_are_found_by_name_whatever_their_case_spacing_or_order():
    header = ["\ufeff  transaction id ", "GROSS", "currency", "date", "TIME ZONE", "time",
              "reference transaction id", "Custom Number"]  # fmt: skip
    f, [r] = read(
        header, ["TXN1", "9.00", "usd", "2026-01-15", "UTC", "12:00", "I-ABCDEFGH", "tok"]
    )
    assert isinstance(r, Reported), r
    assert (r.txn_id, r.amount, r.currency, r.custom) == ("TXN1", Decimal("9.00"), "USD", "tok")
    assert r.at == datetime(2026, 1, 15, 12, tzinfo=UTC) and r.subscription_ref == "I-ABCDEFGH"
    assert r.raw["Custom Number"] == "tok" and r.raw["line"] == 2


def test_a_header_without_the_needed_columns_is_refused():
    with pytest.raises(HeaderError, match="gross"):
        ActivityFile(["Date", "Transaction ID", "Currency", "Net"])


@pytest.mark.parametrize(
    "header, date, expected",
    [
        (US, "02/03/2026", (2026, 2, 3)),  # US header: month first
        (UK, "02/03/2026", (2026, 3, 2)),  # UK header: day first
        (PLAIN, "02.03.2026", (2026, 3, 2)),  # dots: day first, always
        (PLAIN, "2026-02-03", (2026, 2, 3)),
        (US, "2/3/26", (2026, 2, 3)),
    ],
)
def test_date_orders(header, date, expected):
    f = ActivityFile(header)
    assert f.date(date, 2) == expected


def test_an_ambiguous_date_is_a_problem_until_the_file_says_which():
    f, rows = read(
        PLAIN,
        ["02/03/2026", "10:00", "Payment", "EUR", "9,00", "TXN1"],
        ["13/03/2026", "10:00", "Payment", "EUR", "9,00", "TXN2"],
        ["02/03/2026", "10:00", "Payment", "EUR", "9,00", "TXN3"],
    )
    assert isinstance(rows[0], Problem) and "ambiguous date 02/03/2026" in rows[0].message
    assert rows[0].line == 2
    assert isinstance(rows[1], Reported) and rows[1].at.month == 3
    assert isinstance(rows[2], Reported) and (rows[2].at.month, rows[2].at.day) == (3, 2)
    assert any("line 3: 13/03/2026 can only be day/month" in n for n in f.notes)


def test_the_time_zone_settles_the_date_order_when_the_header_does_not():
    header = ["Date", "Time", "Time_Zone", "Currency", "Gross", "Transaction ID"]
    assert ActivityFile(header).order is None  # neither the US nor the UK spelling
    f, [r] = read(header, ["02/03/2026", "10:00", "CET", "EUR", "9,00", "TXN1"])
    assert isinstance(r, Reported) and (r.at.month, r.at.day, r.at.hour) == (3, 2, 9)
    assert "dates read as DMY (CET times)" in f.notes
    us, [r] = read(header, ["02/03/2026", "10:00", "EST", "USD", "9.00", "TXN1"])
    assert isinstance(r, Reported) and (r.at.month, r.at.day, r.at.hour) == (2, 3, 15)


def test_the_date_format_given_wins():
    f = ActivityFile(US, date_order=DateOrder.DMY)
    assert f.date("02/03/2026", 2) == (2026, 3, 2) and "as asked" in f.notes[0]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("9.00", "9.00"),
        ("-9.00", "-9.00"),
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("9,00", "9.00"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("(9.00)", "-9.00"),
        ("1,234,567", "1234567"),
        ("0,500", "0.500"),
        ("12", "12"),
    ],
)
def test_amounts_in_every_locale(text, expected):
    assert ActivityFile(PLAIN).amount(text, "gross") == Decimal(expected)


def test_an_amount_that_could_be_either_waits_for_the_files_decimal_mark():
    f = ActivityFile(PLAIN)
    with pytest.raises(ValueError, match="ambiguous gross"):
        f.amount("1,234", "gross")
    assert f.amount("9.50", "gross") == Decimal("9.50")  # the file uses "."
    assert f.amount("1,234", "gross") == Decimal("1234")
    with pytest.raises(ValueError, match="earlier rows"):
        f.amount("9,50", "gross")
    assert ActivityFile(PLAIN, decimal_mark=",").amount("1.234", "gross") == Decimal("1234")


@pytest.mark.parametrize(
    "zone, time, hour",
    [("PST", "04:00:00", 12), ("PDT", "05:00:00", 12), ("Europe/London", "12:00", 12),
     ("GMT+01:00", "13:00", 12), ("UTC-08:00", "4:00 AM", 12), ("EST", "7:00:00 AM", 12)],
)  # fmt: skip
def test_time_zones(zone, time, hour):
    f = ActivityFile(US)
    assert f.moment("01/15/2026", time, zone, 2) == datetime(2026, 1, 15, hour, tzinfo=UTC)


def test_pacific_when_the_file_names_no_zone():
    f = ActivityFile(PLAIN)
    assert "US Pacific" in " ".join(f.notes)
    assert f.moment("2026-07-01", "05:00", "", 2) == datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_rows_that_move_no_money_to_us_are_skipped():
    f, rows = read(
        US,
        row(kind="General Authorization", status="Pending", impact="Memo"),
        row(kind="General Currency Conversion", gross="-1,234.56"),
        row(kind="Chargeback Fee", gross="-20.00", ref="TXN00000000000009"),
        row(kind="Express Checkout Payment", gross="-5.00"),  # a payment we sent
        row(),
    )
    assert [type(r) for r in rows] == [Skipped] * 4 + [Reported]


@pytest.mark.parametrize(
    "kind, gross, expected",
    [("Payment Refund", "-9.00", TxnKind.REFUND), ("Chargeback", "-9.00", TxnKind.REVERSAL),
     ("Payment Reversal", "-9.00", TxnKind.REVERSAL),
     ("Cancellation of Reversal", "9.00", TxnKind.REVERSAL_CANCEL),
     ("Chargeback Reversal", "9.00", TxnKind.REVERSAL_CANCEL),
     ("Subscription Payment", "9.00", TxnKind.PAYMENT),
     ("Donation Payment", "5.00", TxnKind.PAYMENT)],
)  # fmt: skip
def test_kinds(kind, gross, expected):
    _, [r] = read(US, row(kind=kind, gross=gross, ref="TXN00000000000009"))
    assert isinstance(r, Reported) and r.kind is expected
    if expected is not TxnKind.PAYMENT:
        assert r.parent_txn_id == "TXN00000000000009" and r.subscription_ref == ""


@pytest.mark.parametrize(
    "bad, message",
    [
        (row(date="31/31/2026"), "31/31/2026"),
        (row(gross="nine"), "gross 'nine' is not an amount"),
        (row(currency="dollars"), "not a currency code"),
        (row(status="Frobnicated"), "unknown status"),
        (row(txn="bad id!"), "not a PayPal id"),
        (row(zone="Mars/Olympus"), "unknown time zone"),
        (row(kind="Payment Refund", gross="-9.00", ref=""), "names no original transaction"),
        (row(time="25:99"), "not a real date and time"),
    ],
)
def test_a_row_that_cannot_be_read_is_a_problem_with_its_line(bad, message):
    _, [first, problem, last] = read(US, row(), bad, row(txn="TXN00000000000003"))
    assert isinstance(first, Reported) and isinstance(last, Reported)
    assert isinstance(problem, Problem) and problem.line == 3 and message in problem.message


def test_statuses():
    _, rows = read(US, row(status="Partially Refunded"), row(status="Denied"), row(status=""))
    assert [r.status for r in rows if isinstance(r, Reported)] == [
        Said.PARTIALLY_REFUNDED,
        Said.DENIED,
        Said.COMPLETED,
    ]


def stream(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


def test_reader_streams_rows_finds_the_header_and_survives_bad_csv():
    huge = "x" * 200_000
    text = (
        "Activity report, exported 2026-02-01\r\n"
        '"Date","Time","TimeZone","Gross","Currency","Transaction ID"\r\n'
        '"01/15/2026","04:00:00","PST","9.00","USD","TXN1"\r\n'
        f'"01/15/2026","04:00:00","PST","9.00","USD","{huge}"\r\n'
        '"01/16/2026","04:00:00","PST","9.00","USD","TXN3"\r\n'
    )
    reader = ActivityReader(stream(text))
    rows = list(reader)
    assert isinstance(rows[0], Reported) and rows[0].txn_id == "TXN1"
    assert isinstance(rows[1], Problem) and rows[1].line == 4
    assert isinstance(rows[-1], Reported) and rows[-1].txn_id == "TXN3"


def test_tab_and_semicolon_separated_files():
    for sep in ("\t", ";"):
        text = sep.join(["Date", "Gross", "Currency", "Transaction ID"]) + "\n"
        text += sep.join(["15.01.2026", "9,00", "EUR", "TXN1"]) + "\n"
        [r] = list(ActivityReader(stream(text)))
        assert isinstance(r, Reported) and r.amount == Decimal("9.00") and r.at.day == 15


def test_not_an_activity_download():
    with pytest.raises(HeaderError, match="Date and Transaction ID"):
        ActivityReader(stream("a,b,c\n1,2,3\n"))

"""Build IPN bodies for tests the way PayPal encodes them (windows-1252 form encoding)."""

from __future__ import annotations

from datetime import datetime

from paypal_sim.formats import encode_form, ipn_date

COMMON = [
    ("business", "merchant@example.com"),
    ("receiver_email", "merchant@example.com"),
    ("receiver_id", "SIMMERCHANT01"),
    ("test_ipn", "1"),
    ("charset", "windows-1252"),
    ("custom", ""),
    ("item_number", "premium-monthly"),
    ("first_name", "José"),
]


def body(fields: list[tuple[str, str]]) -> bytes:
    return encode_form(fields + COMMON, "windows-1252")


def signup(sub: str, at: datetime) -> bytes:
    return body(
        [
            ("txn_type", "subscr_signup"),
            ("subscr_id", sub),
            ("subscr_date", ipn_date(at)),
            ("mc_amount3", "9.00"),
            ("period3", "1 M"),
            ("recurring", "1"),  # PayPal sends it for every renewing (src=1) button
            ("mc_currency", "USD"),
            ("ipn_track_id", f"sg{sub}"),
        ]
    )


def payment(sub: str, txn: str, at: datetime, status: str = "Completed") -> bytes:
    return body(
        [
            ("txn_type", "subscr_payment"),
            ("subscr_id", sub),
            ("txn_id", txn),
            ("payment_date", ipn_date(at)),
            ("payment_status", status),
            ("mc_gross", "9.00"),
            ("mc_fee", "0.56"),
            ("mc_currency", "USD"),
            ("ipn_track_id", f"p{txn}"),
        ]
    )


def money_back(parent: str, txn: str, at: datetime, status: str, gross: str) -> bytes:
    return body(
        [
            ("payment_date", ipn_date(at)),
            ("payment_status", status),
            ("parent_txn_id", parent),
            ("txn_id", txn),
            ("mc_gross", gross),
            ("mc_currency", "USD"),
            ("ipn_track_id", f"m{txn}"),
        ]
    )


def event(sub: str, txn_type: str, at: datetime) -> bytes:
    fields = [("txn_type", txn_type), ("subscr_id", sub), ("ipn_track_id", f"{txn_type}{sub}")]
    if txn_type in ("subscr_cancel",):
        fields.append(("subscr_date", ipn_date(at)))
    if txn_type == "subscr_failed":
        fields += [("payment_date", ipn_date(at)), ("mc_gross", "9.00"), ("mc_currency", "USD")]
    return body(fields)

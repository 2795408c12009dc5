"""IPN field sets for subscription events, in the order and shape PayPal sends them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .formats import ipn_date, money, new_id
from .state import Account, Purchase, Subscription, Transaction
from .trials import trials_of

Fields = list[tuple[str, str]]


def payer_fields(who: Subscription | Purchase) -> Fields:
    """The payer as every IPN names them (a subscriber, a buyer)."""
    return [
        ("first_name", who.first_name),
        ("last_name", who.last_name),
        ("payer_email", who.payer_email),
        ("payer_id", who.payer_id),
        ("payer_status", "verified"),
        ("residence_country", "US"),
    ]


def receiver_fields(acct: Account) -> Fields:
    return [
        ("business", acct.business),
        ("receiver_email", acct.business),
        ("receiver_id", acct.receiver_id),
    ]


def tail_fields(acct: Account) -> Fields:
    tail = [
        ("verify_sign", new_id("A", 55)),
        ("charset", acct.charset),
        ("notify_version", "3.9"),
        ("ipn_track_id", new_id("", 13).lower()),
    ]
    if acct.sandbox:
        tail.insert(0, ("test_ipn", "1"))
    return tail


def _terms(sub: Subscription) -> Fields:
    terms: Fields = []
    for n, (trial_amount, count, unit) in enumerate(trials_of(sub), start=1):
        trial = money(trial_amount)
        terms += [
            (f"amount{n}", trial),
            (f"mc_amount{n}", trial),
            (f"period{n}", f"{count} {unit}"),
        ]
    amount = money(sub.amount)
    terms += [
        ("amount3", amount),
        ("mc_amount3", amount),
        ("period3", f"{sub.period_count} {sub.period_unit}"),
        ("recurring", "1"),
    ]
    if sub.total_cycles:
        terms.append(("recur_times", str(sub.total_cycles)))
    terms.append(("reattempt", "1" if sub.reattempt else "0"))
    return terms


def _item(sub: Subscription) -> Fields:
    return [("item_name", sub.item_name), ("item_number", sub.item_number), ("custom", sub.custom)]


def subscription_event(acct: Account, sub: Subscription, txn_type: str, at: datetime) -> Fields:
    """subscr_signup / subscr_cancel / subscr_modify / subscr_eot: no txn_id, no payment_status."""
    fields: Fields = [("txn_type", txn_type), ("subscr_id", sub.id)]
    if txn_type in ("subscr_signup", "subscr_cancel", "subscr_modify"):
        fields.append(("subscr_date", ipn_date(at)))
    if txn_type == "subscr_modify":
        fields.append(("subscr_effective", ipn_date(at)))
    fields += (
        payer_fields(sub) + [("mc_currency", sub.currency)] + _item(sub) + receiver_fields(acct)
    )
    if txn_type != "subscr_eot":
        fields += _terms(sub)
    return fields + tail_fields(acct)


def payment(acct: Account, sub: Subscription, txn: Transaction) -> Fields:
    """subscr_payment: a charge on the subscription (payment_status Completed, Pending, ...)."""
    fields: Fields = [
        ("transaction_subject", sub.custom),
        ("payment_date", ipn_date(txn.time)),
        ("txn_type", "subscr_payment"),
        ("subscr_id", sub.id),
    ]
    fields += payer_fields(sub) + _item(sub)
    fields += [
        ("mc_gross", money(txn.amount)),
        ("mc_fee", money(txn.fee)),
        ("mc_currency", txn.currency),
        ("payment_type", "instant"),
        ("payment_status", txn.status),
        ("protection_eligibility", "Eligible"),
        ("txn_id", txn.id),
    ]
    if txn.currency == "USD":
        fields += [("payment_gross", money(txn.amount)), ("payment_fee", money(txn.fee))]
    if txn.status == "Pending":
        fields.append(("pending_reason", "echeck"))
    return fields + receiver_fields(acct) + tail_fields(acct)


def failed(acct: Account, sub: Subscription, at: datetime, retry_at: datetime | None) -> Fields:
    """subscr_failed: a renewal could not be charged; PayPal may retry at `retry_at`."""
    fields: Fields = [
        ("txn_type", "subscr_failed"),
        ("subscr_id", sub.id),
        ("payment_date", ipn_date(at)),
    ]
    fields += payer_fields(sub) + _item(sub)
    fields += [
        ("mc_gross", money(sub.amount)),
        ("mc_currency", sub.currency),
        ("payment_status", "Failed"),
    ]
    if retry_at is not None:
        fields.append(("retry_at", ipn_date(retry_at)))
    return fields + receiver_fields(acct) + tail_fields(acct)


REASON = {"Refunded": "refund", "Reversed": "chargeback", "Canceled_Reversal": "other"}


def money_back(acct: Account, sub: Subscription, txn: Transaction) -> Fields:
    """Refunded / Reversed / Canceled_Reversal of an earlier payment (`parent_txn_id`).

    These carry no txn_type and no subscr_id: the listener must find the payment by
    parent_txn_id, as with PayPal.
    """
    fields: Fields = [("payment_date", ipn_date(txn.time))] + payer_fields(sub) + _item(sub)
    fields += [
        ("mc_gross", money(txn.amount)),
        ("mc_fee", money(txn.fee)),
        ("mc_currency", txn.currency),
        ("payment_type", "instant"),
        ("payment_status", txn.status),
        ("reason_code", REASON[txn.status]),
        ("parent_txn_id", txn.parent_id or ""),
        ("txn_id", txn.id),
    ]
    if txn.status == "Reversed":
        fields += [("case_type", "chargeback"), ("case_id", new_id("PP-D-", 8))]
    return fields + receiver_fields(acct) + tail_fields(acct)


def recurring(
    acct: Account, sub: Subscription, txn_type: str, at: datetime, txn: Transaction | None = None
) -> Fields:
    """The recurring_payment* family (profile-style messages keyed by recurring_payment_id)."""
    fields: Fields = [
        ("txn_type", txn_type),
        ("recurring_payment_id", sub.id),
        (
            "payment_cycle",
            {"D": "Daily", "W": "Weekly", "M": "Monthly", "Y": "Yearly"}[sub.period_unit],
        ),
        # PayPal really sends " Regular" with a leading space.
        ("period_type", " Regular"),
        ("product_name", sub.item_name),
        ("product_type", "1"),
        ("amount", money(sub.amount)),
        ("amount_per_cycle", money(sub.amount)),
        ("currency_code", sub.currency),
        ("profile_status", "Active" if sub.status == "ACTIVE" else sub.status.capitalize()),
        ("time_created", ipn_date(sub.create_time or at)),
        ("outstanding_balance", "0.00"),
        ("rp_invoice_id", sub.custom),
    ]
    if sub.style == "rest":
        fields.append(("custom", sub.custom))  # a REST subscription's custom_id rides along
    if sub.next_billing is not None:
        fields.append(("next_payment_date", ipn_date(sub.next_billing)))
    fields += payer_fields(sub)
    if txn is not None:
        fields += [
            ("payment_date", ipn_date(txn.time)),
            ("mc_gross", money(txn.amount)),
            ("mc_fee", money(txn.fee)),
            ("mc_currency", txn.currency),
            ("payment_status", txn.status),
            ("payment_type", "instant"),
            ("txn_id", txn.id),
        ]
    return fields + receiver_fields(acct) + tail_fields(acct)


def fee_for(acct: Account, amount: Decimal) -> Decimal:
    return (amount * acct.fee_rate + acct.fee_fixed).quantize(Decimal("0.01"))

"""The comparison, pure: PayPal's rows and ours in, keyed differences out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.billing.formats.reconcile import (
    DiffKind,
    MoneyBack,
    Recorded,
    compare,
    compare_payments,
)
from gateway.billing.formats.reconcile_subscriptions import OurSubscription, compare_subscription
from gateway.billing.formats.reported import (
    backfill_document,
    from_search,
    interpret_reported,
    windows,
)
from gateway.billing.formats.reported_transaction import Reported, Said, TxnKind
from gateway.billing.rules.facts import FactKind
from gateway.billing.rules.statuses import PaymentStatus as P

T = datetime(2026, 1, 15, 12, tzinfo=UTC)


def theirs(txn="TXN1", kind=TxnKind.PAYMENT, status=Said.COMPLETED, amount="9.00", current=True,
           ref="I-SUB1", parent="", at=T) -> Reported:  # fmt: skip
    return Reported(
        txn, kind, status, Decimal(amount), "USD", at, "test", current, None,
        ref if kind is TxnKind.PAYMENT else "", parent,
    )  # fmt: skip


def ours(txn="TXN1", status=P.COMPLETED, amount="9.00", currency="USD") -> Recorded:
    return Recorded(txn, Decimal(amount), currency, status, T, "I-SUB1", 7)


def test_a_clean_report_differs_in_nothing():
    mine = {"TXN1": ours()}
    assert compare([theirs()], mine, list(mine.values()), "January") == []


def test_missing_here_is_backfilled_only_when_completed_and_naming_a_subscription():
    [d] = compare_payments([theirs()], {}, {"I-SUB1": 7})
    assert d.kind is DiffKind.MISSING and d.backfill is not None and d.subscription_id == 7
    assert "ours: no such payment; PayPal's: TXN1 9.00 USD Completed" in d.message
    [pending] = compare_payments([theirs(status=Said.PENDING)], {})
    assert pending.backfill is None and "pending" in pending.message
    [nameless] = compare_payments([theirs(ref="")], {})
    assert nameless.backfill is None and "names no subscription" in nameless.message
    assert compare_payments([theirs(status=Said.DENIED)], {}) == []  # no money moved


def test_unreported_amount_and_currency():
    period = "January"
    found = compare([theirs(amount="8.00")], {"TXN1": ours()}, [ours(), ours("MINE")], period)
    assert [d.kind for d in found] == [DiffKind.AMOUNT, DiffKind.UNREPORTED]
    assert found[0].key == "reconcile:amount:TXN1:9.00:8.00"
    assert "ours: TXN1 9.00 USD Completed" in found[0].message
    assert "PayPal's: TXN1 8.00 USD Completed" in found[0].message
    assert found[1].key == "reconcile:unreported:MINE"
    [cur] = compare_payments([theirs()], {"TXN1": ours(currency="EUR")})
    assert cur.kind is DiffKind.CURRENCY


@pytest.mark.parametrize(
    "said, current, mine, differs",
    [
        (Said.COMPLETED, True, P.COMPLETED, False),
        (Said.COMPLETED, True, P.PARTIALLY_REFUNDED, False),
        (Said.COMPLETED, True, P.REFUNDED, True),  # Transaction Search says it is not refunded
        (Said.COMPLETED, False, P.REFUNDED, False),  # the CSV's status is the one at payment
        (Said.COMPLETED, True, P.PENDING, True),
        (Said.MONEY_BACK, True, P.COMPLETED, True),
        (Said.MONEY_BACK, True, P.REFUNDED, False),
        (Said.MONEY_BACK, True, P.REVERSED, False),
        (Said.PENDING, True, P.COMPLETED, True),
        (Said.DENIED, True, P.COMPLETED, True),
        (Said.REFUNDED, False, P.REFUNDED, False),
    ],
)
def test_status_agreement(said, current, mine, differs):
    found = compare_payments([theirs(status=said, current=current)], {"TXN1": ours(status=mine)})
    assert bool(found) is differs, found
    if found:
        assert found[0].key == f"reconcile:status:TXN1:{mine.value}"


def money_back(*rows, mine=None):
    back = MoneyBack()
    for r in rows:
        back.add(r)
    return back.differences({"TXN1": mine or ours()})


def refund(txn, amount, at=T):
    return theirs(txn, TxnKind.REFUND, amount=f"-{amount}", parent="TXN1", at=at)


def test_refunds_against_our_status():
    [full] = money_back(refund("R1", "4.00"), refund("R2", "5.00"))
    assert full.kind is DiffKind.STATUS and "refunded at PayPal but completed here" in full.message
    assert "refunds of 9.00 USD (R1, R2)" in full.message
    assert money_back(refund("R1", "9.00"), mine=ours(status=P.REFUNDED)) == []
    [part] = money_back(refund("R1", "4.00"))
    assert "partially refunded at PayPal" in part.message
    # An earlier refund may predate the report: a full refund here is not contradicted.
    assert money_back(refund("R1", "4.00"), mine=ours(status=P.REFUNDED)) == []
    # The same refund row twice (overlapping windows) counts once.
    assert (
        money_back(
            refund("R1", "4.00"), refund("R1", "4.00"), mine=ours(status=P.PARTIALLY_REFUNDED)
        )
        == []
    )


def test_reversals_and_their_cancellation():
    rev = theirs("V1", TxnKind.REVERSAL, amount="-9.00", parent="TXN1")
    back = theirs(
        "C1", TxnKind.REVERSAL_CANCEL, amount="9.00", parent="TXN1", at=T + timedelta(days=9)
    )
    [d] = money_back(rev)
    assert "reversed at PayPal but completed here" in d.message
    assert money_back(rev, mine=ours(status=P.REVERSED)) == []
    assert money_back(rev, back) == []  # reversed, then cancelled: completed again
    [undone] = money_back(back, rev, mine=ours(status=P.REVERSED))  # any order
    assert "reversal cancelled" in undone.message


def test_subscriptions():
    mine = OurSubscription("I-SUB1", 7, "active", T)
    assert compare_subscription(mine, {"status": "ACTIVE"}) is None
    d = compare_subscription(
        mine, {"status": "CANCELLED", "status_update_time": "2026-01-20T10:00:00Z"}
    )
    assert d is not None and d.key == "reconcile:subscription:I-SUB1:CANCELLED"
    assert "ours: I-SUB1 active, paid through 2026-01-15 12:00 UTC" in d.message
    assert "PayPal's: I-SUB1 CANCELLED since 2026-01-20 10:00 UTC" in d.message
    gone = compare_subscription(mine, None)
    assert gone is not None and gone.key == "reconcile:subscription:I-SUB1:unknown"


def test_windows_are_at_most_31_days_and_end_to_end():
    cuts = windows(T, T + timedelta(days=70))
    assert len(cuts) == 3 and cuts[0][0] == T and cuts[-1][1] == T + timedelta(days=70)
    assert all(b - a <= timedelta(days=31) for a, b in cuts)
    assert all(cuts[i][1] == cuts[i + 1][0] for i in range(2))


SEARCH_ROW = {
    "transaction_info": {
        "transaction_id": "5TY05013RG002845M",
        "paypal_reference_id": "I-SUB1",
        "paypal_reference_id_type": "SUB",
        "transaction_event_code": "T0002",
        "transaction_initiation_date": "2026-01-15T12:00:00+0000",
        "transaction_amount": {"currency_code": "USD", "value": "9.00"},
        "fee_amount": {"currency_code": "USD", "value": "-0.56"},
        "transaction_status": "S",
        "custom_field": "checkout-token",
    },
    "payer_info": {"email_address": "buyer@example.com"},
    "cart_info": {"item_details": [{"item_code": "P-MONTHLY"}]},
}


def test_a_search_row_is_read_and_a_backfill_applies_as_a_payment():
    r = from_search(SEARCH_ROW)
    assert (r.kind, r.status, r.at, r.fee) == (TxnKind.PAYMENT, Said.COMPLETED, T, Decimal("0.56"))
    assert (r.subscription_ref, r.custom, r.item) == ("I-SUB1", "checkout-token", "P-MONTHLY")
    body = backfill_document(r, T + timedelta(days=1))
    assert json.loads(body)["row"] == SEARCH_ROW
    meaning = interpret_reported(body, T + timedelta(days=1))
    assert meaning.error == "" and meaning.subscription_ref == "I-SUB1"
    assert meaning.member_token == "checkout-token" and meaning.plan_refs[0].value == "P-MONTHLY"
    [fact] = meaning.facts
    assert (fact.kind, fact.key, fact.at) == (
        FactKind.PAYMENT_COMPLETED,
        "5TY05013RG002845M:Completed",
        T,
    )
    assert meaning.payment is not None and meaning.payment.amount == Decimal("9.00")


def test_refund_rows_and_unreadable_ones():
    row = json.loads(json.dumps(SEARCH_ROW))
    info = row["transaction_info"]
    info.update(
        transaction_event_code="T1107",
        paypal_reference_id="5TY05013RG002845M",
        paypal_reference_id_type="TXN",
        transaction_amount={"currency_code": "USD", "value": "-9.00"},
    )
    r = from_search(row)
    assert r.kind is TxnKind.REFUND and r.parent_txn_id == "5TY05013RG002845M"
    info["transaction_status"] = "Q"
    with pytest.raises(ValueError, match="unknown status"):
        from_search(row)
    assert interpret_reported(b"not json", T).error
    assert interpret_reported(b'{"kind":"other"}', T).error

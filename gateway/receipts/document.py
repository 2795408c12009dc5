"""What a receipt says, read once for both the page and the PDF, so they say the same.

The seller comes from configuration (RECEIPT_SELLER_*), the buyer from the member and the
payer PayPal reported (with the name PayPal gave with the payment), the rest from the
payment, its subscription and the refund and chargeback facts about its transaction.
PayPal's fee is the seller's cost, not the buyer's business: it is never on a receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from models import Payment, Receipt, Subscription, SubscriptionFact, User, db

from ..billing.rules.facts import FactKind
from ..clock import day_text
from . import numbering

#: Facts about a payment's transaction that move money back, with the receipt's word
#: and the sign of their effect on what the seller kept.
MOVEMENTS = {
    FactKind.REFUNDED.value: ("Refund", -1),
    FactKind.REVERSED.value: ("Chargeback", -1),
    FactKind.REVERSAL_CANCELLED.value: ("Chargeback cancelled", 1),
}


@dataclass(frozen=True)
class Movement:
    """A refund or chargeback against the payment."""

    what: str
    at: datetime
    amount: Decimal | None
    sign: int


@dataclass(frozen=True)
class ReceiptDoc:
    payment_id: int
    #: None while PayPal has not settled the payment (Pending): no number yet.
    number: str | None
    issued_at: datetime | None
    seller_name: str
    seller_address: tuple[str, ...]
    seller_tax_id: str
    #: The payer's name as PayPal reported it (business name, else given name and
    #: surname); None when PayPal named no one.
    buyer_name: str | None
    buyer_email: str
    #: The PayPal account that paid, when PayPal said and it differs from the member's.
    payer_email: str | None
    item: str
    period_start: datetime | None
    period_end: datetime | None
    paid_at: datetime
    amount: Decimal
    currency: str
    tax: Decimal | None
    txn_id: str
    paypal_subscription: str | None
    status: str
    movements: tuple[Movement, ...]

    @property
    def net(self) -> Decimal:
        """What the buyer paid less what went back to them."""
        back = sum((m.sign * m.amount for m in self.movements if m.amount), Decimal(0))
        return self.amount + back

    @property
    def filename(self) -> str:
        return f"receipt-{self.number or self.txn_id}.pdf"


def _address(value: object) -> tuple[str, ...]:
    """RECEIPT_SELLER_ADDRESS as lines: a list, or one string with newlines."""
    lines = value if isinstance(value, list | tuple) else str(value or "").splitlines()
    return tuple(str(line).strip() for line in lines if str(line).strip())


def find(payment_id: int, viewer: User) -> tuple[Payment, Subscription] | None:
    """The payment and its subscription if `viewer` may see its receipt: its member, or
    an admin. Anyone else gets None (the view answers 404, not 403: no existence leak)."""
    query = (
        select(Payment, Subscription)
        .join(Subscription, Subscription.id == Payment.subscription_id)
        .where(Payment.id == payment_id)
    )
    if not viewer.is_admin:
        query = query.where(Subscription.user_id == viewer.id)
    row = db.session.execute(query).first()
    return (row[0], row[1]) if row else None


def find_by_txn(txn_id: str, viewer: User) -> int | None:
    """The id of the payment with PayPal's `txn_id`, under the same rule as `find` (mails
    name the transaction: a batch queues its mails before its payments have ids)."""
    pid = db.session.scalar(select(Payment.id).where(Payment.txn_id == txn_id))
    return pid if pid is not None and find(pid, viewer) is not None else None


def load(payment_id: int, viewer: User, now: datetime) -> ReceiptDoc | None:
    """The receipt of one payment for `viewer`, numbered now if it never was (a payment
    stored before receipts were numbered); None if `viewer` may not see it."""
    found = find(payment_id, viewer)
    if found is None:
        return None
    payment, sub = found
    receipt = db.session.scalar(select(Receipt).where(Receipt.payment_id == payment.id))
    if receipt is None and payment.status not in numbering.UNPAID:
        db.session.commit()  # a fresh transaction whose first statement writes (SQLite)
        numbering.issue([sub.id], now)
        db.session.commit()
        return load(payment_id, viewer, now)
    return build(payment, sub, receipt)


def build(payment: Payment, sub: Subscription, receipt: Receipt | None) -> ReceiptDoc:
    cfg = current_app.config
    facts = db.session.scalars(
        select(SubscriptionFact)
        .where(
            SubscriptionFact.subscription_id == sub.id,
            SubscriptionFact.txn_id == payment.txn_id,
            SubscriptionFact.kind.in_(list(MOVEMENTS)),
        )
        .order_by(SubscriptionFact.at, SubscriptionFact.id)
    ).all()
    buyer = sub.user.email if sub.user else (sub.payer_email or "")
    payer = sub.payer_email if sub.payer_email and sub.payer_email != buyer else None
    return ReceiptDoc(
        payment_id=payment.id,
        number=receipt.number if receipt else None,
        issued_at=receipt.issued_at if receipt else None,
        seller_name=str(cfg["RECEIPT_SELLER_NAME"] or ""),
        seller_address=_address(cfg["RECEIPT_SELLER_ADDRESS"]),
        seller_tax_id=str(cfg["RECEIPT_SELLER_TAX_ID"] or ""),
        buyer_name=payment.payer_name or _named_payer(sub, payment),
        buyer_email=buyer,
        payer_email=payer,
        item=sub.plan.name if sub.plan else "Subscription",
        period_start=payment.period_start,
        period_end=payment.period_end,
        paid_at=payment.paid_at,
        amount=payment.amount,
        currency=payment.currency,
        tax=payment.tax,
        txn_id=payment.txn_id,
        paypal_subscription=sub.paypal_id,
        status=payment.status.value.replace("_", " "),
        movements=tuple(
            Movement(
                MOVEMENTS[f.kind][0],
                f.at,
                abs(f.amount) if f.amount is not None else None,
                MOVEMENTS[f.kind][1],
            )
            for f in facts
        ),
    )


def _named_payer(sub: Subscription, payment: Payment) -> str | None:
    """A payment that came without a name (a REST sale names no payer) takes the name
    PayPal last reported with another payment of the same subscription."""
    return db.session.scalar(
        select(Payment.payer_name)
        .where(Payment.subscription_id == sub.id, Payment.payer_name.is_not(None))
        .order_by(Payment.paid_at.desc(), Payment.id.desc())
        .limit(1)
    )


def rows(doc: ReceiptDoc) -> list[tuple[str, str]]:
    """The receipt's body as (label, value) lines; the page shows the same words."""
    period = (
        f"{day_text(doc.period_start)} – {day_text(doc.period_end)}"
        if doc.period_start and doc.period_end
        else "—"
    )
    out = [
        ("Item", doc.item),
        ("Period", period),
        ("Paid", day_text(doc.paid_at)),
        ("Amount", money(doc.amount, doc.currency)),
    ]
    if doc.tax:
        out.append(("Of which tax", money(doc.tax, doc.currency)))
    for m in doc.movements:
        sign = "−" if m.sign < 0 else "+"
        amount = f"{sign}{money(m.amount, doc.currency)}" if m.amount is not None else "—"
        out.append((f"{m.what} {day_text(m.at)}", amount))
    if doc.movements:
        out.append(("Net paid", money(doc.net, doc.currency)))
    out += [
        ("Status", doc.status),
        ("PayPal transaction", doc.txn_id),
        ("PayPal subscription", doc.paypal_subscription or "—"),
    ]
    return out


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"

"""Receipts a business can file: numbered once, the seller and buyer, what was bought,
tax and refunds, never PayPal's fee; the page and its PDF say the same, to the owner only."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, select

from gateway.billing import Fact, FactKind
from gateway.billing.rules.statuses import PaymentStatus
from gateway.receipts import numbering
from models import Payment, Receipt, Subscription
from paypal_sim.formats import ipn_date
from tests.inbox import process_due
from tests.paypal.conftest import StubVerifier
from tests.paypal.ipn_builders import body

SELLER = {
    "RECEIPT_SELLER_NAME": "Zoë Æbelø GmbH",
    "RECEIPT_SELLER_ADDRESS": "Königstraße 1\n70173 Stuttgart",
    "RECEIPT_SELLER_TAX_ID": "DE123456789",
    "RECEIPT_NUMBER_PREFIX": "ZA",
}


@pytest.fixture
def paid(app, db, clock, make_user, make_plan, make_subscription):
    """Member A's subscription with one payment of 11.90 (1.90 tax, 0.59 PayPal fee),
    half refunded three days later."""
    app.config.update(SELLER)
    member = make_user("a@example.com")
    t = clock.now()
    sub = make_subscription(
        member,
        make_plan("premium-monthly", role="premium", price="10.00"),
        [
            Fact(
                FactKind.PAYMENT_COMPLETED,
                t,
                key="TXNR1:Completed",
                txn_id="TXNR1",
                amount=Decimal("11.90"),
            ),
            Fact(
                FactKind.REFUNDED,
                t + timedelta(days=3),
                key="RF1:Refunded",
                txn_id="TXNR1",
                amount=Decimal("-5.95"),
            ),
        ],
        paypal_id="I-RCPT",
    )
    sub.payer_email = "zoë.payer@example.com"
    payment = Payment(
        subscription_id=sub.id,
        txn_id="TXNR1",
        status=PaymentStatus.PARTIALLY_REFUNDED,
        amount=Decimal("11.90"),
        tax=Decimal("1.90"),
        fee=Decimal("0.59"),
        currency="EUR",
        paid_at=t,
        period_start=t,
        period_end=t + timedelta(days=31),
        created_at=t,
    )
    db.session.add(payment)
    db.session.flush()
    assert numbering.issue([sub.id], t) == ["ZA-2026-000001"]
    db.session.commit()
    return member, sub, payment


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_page_says_what_a_business_files(client, login_as, paid):
    """Number, seller, buyer, item and period, amount and tax, the refund; no fee?"""
    member, _, payment = paid
    login_as(member)
    page = client.get(f"/account/receipts/{payment.id}").text
    for text in (
        "ZA-2026-000001",
        "Zoë Æbelø GmbH",
        "Königstraße 1",
        "70173 Stuttgart",
        "Tax id: DE123456789",
        "a@example.com",
        "PayPal payer: zoë.payer@example.com",
        "Premium-Monthly",
        "15 Jan 2026 – 15 Feb 2026",
        "11.90 EUR",
        "Of which tax",
        "1.90 EUR",
        "Refund 18 Jan 2026",
        "−5.95 EUR",
        "Net paid",
        "5.95 EUR",
        "TXNR1",
        f"/account/receipts/{payment.id}.pdf",
    ):
        assert text in page, text
    assert "0.59" not in page and "fee" not in page.lower()


def test_the_pdf_says_the_same_with_unicode(client, login_as, paid):
    """An attachment named by its number, kept private; its text read back from the PDF."""
    member, _, payment = paid
    login_as(member)
    r = client.get(f"/account/receipts/{payment.id}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == 'attachment; filename="receipt-ZA-2026-000001.pdf"'
    assert "private" in r.headers["Cache-Control"]
    text = pdf_text(r.data)
    for words in (
        "Receipt ZA-2026-000001",
        "Zoë Æbelø GmbH",
        "Königstraße 1",
        "DE123456789",
        "a@example.com",
        "Premium-Monthly",
        "11.90 EUR",
        "1.90 EUR",
        "Refund 18 Jan 2026",
        "5.95 EUR",
        "TXNR1",
    ):
        assert words in text, (words, text)
    assert "0.59" not in text and "fee" not in text.lower()


def test_only_the_owner_and_admins_see_it(app, client, login_as, make_user, admin, paid):
    """Another member: 404 for the page, the PDF and the mail's link; an admin: 200."""
    _, _, payment = paid
    stranger = login_as(make_user("b@example.com"), browser=app.test_client())
    for path in (
        f"/account/receipts/{payment.id}",
        f"/account/receipts/{payment.id}.pdf",
        "/account/receipts/paypal/TXNR1.pdf",
    ):
        assert stranger.get(path).status_code == 404, path
    boss = login_as(admin, browser=app.test_client())
    assert boss.get(f"/account/receipts/{payment.id}.pdf").status_code == 200


def test_numbers_are_given_once_in_order_and_never_to_pending(db, clock, paid):
    """A second issue changes nothing; the next payment takes the next number; a pending
    one waits for PayPal; a new year starts a new series."""
    _, sub, _ = paid
    t = clock.now()
    assert numbering.issue([sub.id], t) == []
    for txn, status, at in (
        ("TXNR2", PaymentStatus.PENDING, t + timedelta(days=31)),
        ("TXNR3", PaymentStatus.COMPLETED, t + timedelta(days=62)),
    ):
        db.session.add(
            Payment(
                subscription_id=sub.id,
                txn_id=txn,
                status=status,
                amount=Decimal("11.90"),
                currency="EUR",
                paid_at=at,
                created_at=at,
            )
        )
    db.session.flush()
    assert numbering.issue([sub.id], t) == ["ZA-2026-000002"]
    pending = db.session.scalar(select(Payment).where(Payment.txn_id == "TXNR2"))
    pending.status = PaymentStatus.COMPLETED
    db.session.flush()
    assert numbering.issue([sub.id], t.replace(year=2027)) == ["ZA-2027-000001"]
    db.session.commit()
    numbers = db.session.scalars(select(Receipt.number).order_by(Receipt.id)).all()
    assert numbers == ["ZA-2026-000001", "ZA-2026-000002", "ZA-2027-000001"]


def test_an_old_payment_is_numbered_when_first_opened(db, client, clock, login_as, paid):
    """A payment stored before receipts were numbered gets the next number, once."""
    member, sub, payment = paid
    db.session.execute(delete(Receipt))
    db.session.commit()
    login_as(member)
    assert "ZA-2026-000002" in client.get(f"/account/receipts/{payment.id}").text
    assert "ZA-2026-000002" in client.get(f"/account/receipts/{payment.id}").text
    assert db.session.scalar(select(Receipt.number)) == "ZA-2026-000002"


def test_the_account_page_links_the_pdf(client, login_as, paid):
    member, _, payment = paid
    login_as(member)
    assert f"/account/receipts/{payment.id}.pdf" in client.get("/account").text


def test_the_payer_paypal_names_is_on_the_page_and_pdf(
    app, db, client, clock, login_as, make_user, make_plan
):
    """An IPN's first_name/last_name (windows-1252) reach the receipt; a business name wins,
    on the next payment, applied together with others (the batch path stores it too)."""
    app.config.update(SELLER)
    app.extensions["ipn_verifier"] = StubVerifier()
    make_plan("premium-monthly", role="premium", price="9.00")
    member = make_user("a@example.com")
    t = clock.now()

    def pay(txn: str, at, names: list[tuple[str, str]]) -> None:
        fields = [
            ("txn_type", "subscr_payment"),
            ("subscr_id", "I-NAMED"),
            ("txn_id", txn),
            ("payment_date", ipn_date(at)),
            ("payment_status", "Completed"),
            ("mc_gross", "9.00"),
            ("mc_currency", "USD"),
            ("ipn_track_id", f"p{txn}"),
        ]
        raw = body(fields + names)
        assert b"M%FCller" in raw  # windows-1252, as PayPal sends it
        r = client.post("/paypal/ipn", data=raw, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
        process_due()

    pay("TXNNAMED1", t, [("last_name", "Müller")])  # ipn_builders adds first_name José
    pay(
        "TXNNAMED2",
        t + timedelta(days=31),
        [("last_name", "Müller"), ("payer_business_name", "Müller & Söhne GmbH")],
    )
    first, second = db.session.scalars(select(Payment).order_by(Payment.paid_at)).all()
    assert (first.payer_name, second.payer_name) == ("José Müller", "Müller & Söhne GmbH")
    db.session.get(Subscription, first.subscription_id).user_id = member.id
    db.session.commit()

    login_as(member)
    assert "José Müller" in client.get(f"/account/receipts/{first.id}").text
    assert "Müller &amp; Söhne GmbH" in client.get(f"/account/receipts/{second.id}").text
    text = pdf_text(client.get(f"/account/receipts/{first.id}.pdf").data)
    assert "José Müller" in text and "a@example.com" in text, text
    assert "Müller & Söhne GmbH" in pdf_text(client.get(f"/account/receipts/{second.id}.pdf").data)

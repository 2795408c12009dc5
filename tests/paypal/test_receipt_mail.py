"""The payment mail links the receipt and its PDF absolutely; the pipeline numbers the
payment it applies, and the refund that follows shows on the receipt."""

from __future__ import annotations

from sqlalchemy import select

from gateway.checkout.journal import open_checkout
from models import OutboxMail, Receipt
from tests.inbox import process_due
from tests.paypal.test_notices import story


def test_the_receipt_mail_links_absolutely_to_a_numbered_receipt(
    app, client, db, clock, make_user, make_plan, verified, login_as
):
    """PUBLIC_URL + the receipt's path, page and PDF; both open for the member."""
    app.config["PUBLIC_URL"] = "https://members.test/site"  # workers have no request
    member = make_user("m@example.com")
    checkout = open_checkout(member, make_plan("premium-monthly", role="premium"), clock.now())
    db.session.commit()
    signup, pay, _, refund = story(checkout.token)
    for body in (signup, pay, refund):
        client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    while process_due():
        pass
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.subject.like("Payment%")))
    base = "https://members.test/site/account/receipts/paypal/TXNNOTICE0000001"
    assert f"Your receipt: {base}\n" in mail.text_body
    assert f"As a PDF to file: {base}.pdf\n" in mail.text_body
    assert f'href="{base}.pdf"' in mail.html_body
    assert db.session.scalar(select(Receipt.number)) == "TG-2026-000001"

    login_as(member)
    page = client.get("/account/receipts/paypal/TXNNOTICE0000001", follow_redirects=True)
    assert "TG-2026-000001" in page.text and "Refund 18 Jan 2026" in page.text
    pdf = client.get("/account/receipts/paypal/TXNNOTICE0000001.pdf", follow_redirects=True)
    assert (
        pdf.mimetype == "application/pdf" and "TG-2026-000001" in pdf.headers["Content-Disposition"]
    )

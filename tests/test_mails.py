"""Mails: every template renders from a job (no request) with absolute links and
amounts with their currency; each member-facing event queues its mail once; the
operator's instance/mail/ files win over the shipped ones."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from flask import has_request_context
from sqlalchemy import select

from gateway import mail
from gateway.billing import Fact, FactKind
from gateway.subscriptions import admin_actions, notices
from gateway.subscriptions.notices import MoneyBack
from models import OutboxMail

MAIL_DIR = Path(__file__).resolve().parent.parent / "templates" / "mail"
AMOUNT = re.compile(r"\d+\.\d\d(?! [A-Z]{3}\b)")  # an amount not followed by its currency


def outbox(db) -> list[OutboxMail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def pay(txn, at, amount="9.00"):
    return Fact(FactKind.PAYMENT_COMPLETED, at, key=f"{txn}:c", txn_id=txn, amount=Decimal(amount))


def test_every_template_renders_from_a_job_with_absolute_links_and_currencies(
    app, db, clock, make_user, make_plan, make_subscription
):
    """No request: each link starts with PUBLIC_URL, each amount carries its currency."""
    app.config["PUBLIC_URL"] = "https://members.test/site"
    t = clock.now()
    trial = Fact(FactKind.TRIAL, t, key="trial", until=t + timedelta(days=7))
    sub = make_subscription(make_user(), make_plan("premium-monthly"), [trial], "I-ALL")
    fact = Fact(FactKind.REFUNDED, t, key="R1:Refunded", txn_id="T1", amount=Decimal("-2.00"))
    context = {
        "sub": sub,
        "fact": fact,
        "currency": "USD",
        "back": MoneyBack(Decimal("2.00"), Decimal("9.00"), False, sub.access_until),
        "next_charge": "9.00 USD on 15 Feb 2026",
        "why": "Access ended by the site on 15 Jan 2026.",
        "email": "m@example.com",
        "old": "old@example.com",
        "new": "new@example.com",
        "at": t,
        "minutes": 60,
        "link": mail.link("auth.request_reset"),
        "reset_url": mail.link("auth.request_reset"),
        "account_url": mail.link("member.account"),
        # The registration mails (auth/registration.py): the log-in and the reset links.
        "login": mail.link("auth.login"),
        "reset": mail.link("auth.request_reset"),
        "receipt_url": mail.link("member.account"),
        "receipt_pdf_url": mail.link("member.account"),
    }
    assert not has_request_context()
    names = sorted(p.stem for p in MAIL_DIR.glob("*.txt"))
    assert {p.stem for p in MAIL_DIR.glob("*.html")} == set(names)
    for name in names:
        row = mail.render(f"k:{name}", "m@example.com", name, t, **context)
        html, text = row["html_body"], row["subject"] + "\n" + row["text_body"]
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert all(h.startswith("https://members.test/site/") for h in hrefs), (name, hrefs)
        urls = re.findall(r"\b(?:https?://\S+|/\S*account\S*)", text)
        assert all(u.startswith("https://members.test/site/") for u in urls), (name, urls)
        for body in (html, text):
            assert not AMOUNT.search(body), (name, body)


def test_instance_templates_win_over_the_shipped_ones(app, db, clock):
    """instance/mail/<name>.txt replaces that mail, and only that one."""
    own = Path(app.instance_path) / "mail"
    own.mkdir()
    (own / "password_changed.txt").write_text("Subject: Ours\nHello {{ email }}\n")
    row = mail.render(
        "k",
        "m@example.com",
        "password_changed",
        clock.now(),
        email="m@x",
        at=clock.now(),
        reset_url="https://x/",
    )
    assert row["subject"] == "Ours" and row["text_body"] == "Hello m@x\n"
    assert "choose a new password" in row["html_body"]  # the shipped HTML still serves


def test_welcome_cancellation_and_chargeback_each_once(
    app, db, clock, make_user, make_plan, make_subscription
):
    """A first payment welcomes; a renewal does not; cancel and reversal: one mail each."""
    app.config["PUBLIC_URL"] = "https://members.test"
    t = clock.now()
    member = make_user("m@example.com")
    sub = make_subscription(member, make_plan("premium-monthly"), [], paypal_id="I-WELCOME")

    def tell(*facts):
        new = {(f.kind.value, f.key) for f in facts}
        for f in facts:
            admin_actions.record_fact(sub, f, source="test", now=clock.now())
        ent = admin_actions.recompute(sub, clock.now())
        notices.notify(sub, facts, new, clock.now(), ent=ent, currency="USD")
        db.session.commit()

    tell(pay("T1", t))
    assert [m.subject for m in outbox(db)] == [
        "Welcome: your Premium-Monthly is confirmed",
        "Payment received: Premium-Monthly",
    ]
    assert "9.00 USD on 15 Feb 2026" in outbox(db)[0].text_body
    clock.advance(days=31)
    tell(pay("T2", t + timedelta(days=31)))
    assert len(outbox(db)) == 3  # a receipt, no second welcome
    cancel_ipn = Fact(FactKind.CANCELLED, clock.now(), key="subscr_cancel:x")
    cancel_hook = Fact(FactKind.CANCELLED, clock.now(), key="BILLING.SUBSCRIPTION.CANCELLED:y")
    tell(cancel_ipn)
    tell(cancel_hook)
    cancelled = [m for m in outbox(db) if "cancellation" in m.subject]
    assert len(cancelled) == 1 and "You keep access until 15 Mar 2026" in cancelled[0].text_body
    for key in ("RV1:Reversed:subscr_payment", "RV1:Reversed"):
        tell(Fact(FactKind.REVERSED, clock.now(), key=key, txn_id="T2", amount=Decimal("-9.00")))
    reversed_ = [m for m in outbox(db) if "reversed" in m.subject]
    assert len(reversed_) == 1, [m.subject for m in outbox(db)]
    body = reversed_[0].text_body
    assert "A payment was reversed" in reversed_[0].subject and "of 9.00 USD" in body
    assert "chargeback" not in body.lower() and "fraud" not in body.lower()


def test_trial_ending_and_revoked_access_mails(
    app, db, clock, admin, make_user, make_plan, make_subscription
):
    """Trial ending: NOTICE_DAYS before, once. Access ended by a revoke: the member's
    message, never the internal reason."""
    app.config["PUBLIC_URL"] = "https://members.test"
    t = clock.now()
    trialist = make_user("t@example.com")
    make_subscription(
        trialist,
        make_plan("premium-monthly"),
        [Fact(FactKind.TRIAL, t, key="trial", until=t + timedelta(days=7))],
        paypal_id="I-TRIAL",
    )
    revoked = make_user("r@example.com")
    sub = make_subscription(revoked, make_plan("pro-monthly", role="pro"), [pay("T9", t)])
    admin_actions.revoke(admin, sub, "Chargeback abuse test", t, member_note="Ask us why.")
    db.session.commit()
    notices.access_notices(clock.now())
    clock.advance(days=5)
    notices.access_notices(clock.now())
    notices.access_notices(clock.now())
    by_to = {m.to_addr: m for m in outbox(db)}
    assert sorted(m.subject for m in outbox(db)) == [
        "Your access has ended",
        "Your free trial ends on 22 Jan 2026",
    ]
    assert "Ask us why." in by_to["r@example.com"].text_body
    assert "Chargeback abuse" not in by_to["r@example.com"].text_body
    assert "https://members.test/account" in by_to["t@example.com"].text_body


def test_trial_ending_mail_has_its_own_lead_time(
    app, db, clock, make_user, make_plan, make_subscription
):
    """TRIAL_NOTICE_DAYS, not NOTICE_DAYS, says when a trial's end is told: a trial ending
    in 5 days is told with TRIAL_NOTICE_DAYS=7 (NOTICE_DAYS=3), not with 4."""
    app.config.update(PUBLIC_URL="https://members.test", NOTICE_DAYS=3, TRIAL_NOTICE_DAYS=4)
    t = clock.now()
    make_subscription(
        make_user("t@example.com"),
        make_plan("premium-monthly"),
        [Fact(FactKind.TRIAL, t, key="trial", until=t + timedelta(days=5))],
        paypal_id="I-TRIAL5",
    )
    db.session.commit()
    notices.access_notices(clock.now())
    assert outbox(db) == []
    app.config["TRIAL_NOTICE_DAYS"] = 7
    notices.access_notices(clock.now())
    assert [m.subject for m in outbox(db)] == ["Your free trial ends on 20 Jan 2026"]


def test_password_and_email_changes_are_told(client, db, login_as, make_user, app, clock):
    """A password change mails the member; an e-mail change mails the old and new address."""
    from gateway.auth import email_change

    app.config["PUBLIC_URL"] = "https://members.test"
    member = make_user("old@example.com", password="correct horse battery")
    login_as(member)
    r = client.post(
        "/auth/password",
        data={
            "current": "correct horse battery",
            "password": "new staple 12345",
            "confirm": "new staple 12345",
        },
    )
    assert r.status_code in (302, 303), r.data
    assert [m.subject for m in outbox(db)] == ["Your Tollgate password was changed"]
    assert "https://members.test/auth/reset" in outbox(db)[0].text_body
    email_change.request_change(member, "new@example.com", clock.now())
    link = outbox(db)[-1].text_body.split("https://members.test")[1].split()[0]
    assert client.get(link).status_code in (302, 303)
    changed = [m for m in outbox(db) if m.subject.endswith("e-mail address was changed")]
    assert sorted(m.to_addr for m in changed) == ["new@example.com", "old@example.com"]
    assert client.get(link).status_code in (302, 303)  # the link again: no new mails
    assert len(outbox(db)) == 4

"""Password reset by mail, and the outbox sent through a real SMTP server on loopback."""

from __future__ import annotations

import re

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from gateway.jobs import tasks
from models import OutboxMail
from tests.factories import PASSWORD
from tests.smtp import Inbox, free_port


@pytest.fixture
def smtp(app):
    port, inbox = free_port(), Inbox()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=5)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def ask_for_link(client, email):
    r = client.post("/auth/reset", data={"email": email})
    assert r.status_code == 302
    return client.get(r.headers["Location"]).data.decode()


def the_link(db) -> str:
    mail = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id.desc())).first()
    assert mail is not None
    found = re.search(r"https?://\S+/auth/reset/\S+", mail.text_body)
    assert found is not None, mail.text_body
    return found.group(0).split("localhost", 1)[1]


def test_the_same_answer_for_known_and_unknown_addresses(client, db, make_user):
    """No way to learn from the answer whether an account exists; a mail only for one."""
    make_user("m@example.com")
    known, unknown = ask_for_link(client, "m@example.com"), ask_for_link(client, "x@example.com")
    assert "If an account exists" in known and "If an account exists" in unknown
    assert [m.to_addr for m in db.session.scalars(select(OutboxMail))] == ["m@example.com"]


def test_a_link_works_once(client, db, make_user, login_as, new_client):
    """The link sets a new password, logs in and ends every older session (a copied
    cookie included); used again, it is refused."""
    member = make_user("m@example.com")
    elsewhere = login_as(member, browser=new_client())  # e.g. a stolen session
    assert elsewhere.get("/account").status_code == 200
    ask_for_link(client, "m@example.com")
    link = the_link(db)
    r = client.post(link, data={"password": "a brand new one", "confirm": "a brand new one"})
    assert r.status_code == 302 and client.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302  # that session has ended
    again = client.get(link, follow_redirects=True).data.decode()
    assert "expired or was already used" in again
    client.post("/auth/logout")
    ok = client.post("/auth/login", data={"email": "m@example.com", "password": "a brand new one"})
    assert ok.status_code == 302


def test_a_link_expires(client, db, clock, make_user, app):
    """After RESET_LINK_MINUTES the link no longer works."""
    make_user("m@example.com")
    ask_for_link(client, "m@example.com")
    link = the_link(db)
    clock.advance(minutes=app.config["RESET_LINK_MINUTES"] + 1)
    r = client.post(link, data={"password": "a brand new one", "confirm": "a brand new one"})
    assert r.status_code == 302 and "/auth/reset" in r.headers["Location"]


def test_the_owner_recovers_while_log_ins_are_delayed(app, client, db, make_user):
    """Guessing delayed the owner's address: the reset link still works, and clears it."""
    make_user("m@example.com")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] + 1):
        client.post("/auth/login", data={"email": "m@example.com", "password": "nope nope"})
    assert (
        client.post(
            "/auth/login", data={"email": "m@example.com", "password": PASSWORD}
        ).status_code
        == 429
    )
    ask_for_link(client, "m@example.com")
    r = client.post(
        the_link(db), data={"password": "recovered at last", "confirm": "recovered at last"}
    )
    assert r.status_code == 302 and client.get("/account").status_code == 200
    client.post("/auth/logout")
    assert (
        client.post(
            "/auth/login", data={"email": "m@example.com", "password": "recovered at last"}
        ).status_code
        == 302
    )


def test_the_outbox_is_sent_once_over_smtp(client, db, make_user, smtp, clock):
    """The job hands each mail to the SMTP server once, text and HTML."""
    make_user("m@example.com")
    ask_for_link(client, "m@example.com")
    assert tasks.send_mail(clock.now()) == "1 of 1 mail(s) sent"
    assert tasks.send_mail(clock.now()) == "0 of 0 mail(s) sent"
    assert len(smtp.messages) == 1
    message = smtp.messages[0].decode()
    assert "Subject: Reset your Tollgate password" in message and "text/html" in message


def test_the_outbox_retries_after_smtp_was_down(app, client, db, make_user, clock):
    """SMTP down: the mail waits and is retried; once the server is up it goes, once."""
    port, inbox = free_port(), Inbox()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=2)
    make_user("m@example.com")
    ask_for_link(client, "m@example.com")
    assert tasks.send_mail(clock.now()) == "0 of 1 mail(s) sent"
    mail = db.session.scalar(select(OutboxMail))
    assert mail.attempts == 1 and mail.last_error and mail.sent_at is None
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert tasks.send_mail(clock.now()) == "0 of 0 mail(s) sent"  # waits its backoff
        clock.advance(minutes=2)
        assert tasks.send_mail(clock.now()) == "1 of 1 mail(s) sent"
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_without_smtp_mails_stay_readable_in_the_outbox(
    client, db, admin, login_as, make_user, clock
):
    """The demo: nothing is sent; the admin reads the mail on the outbox page."""
    make_user("m@example.com")
    ask_for_link(client, "m@example.com")
    assert "no MAIL_SERVER configured" in tasks.send_mail(clock.now())
    login_as(admin)
    page = client.get("/admin/outbox").data.decode()
    assert "Reset your Tollgate password" in page and "/auth/reset/" in page


def test_an_admin_can_send_a_reset_link_and_lift_delays(
    app, client, db, admin, login_as, make_user, new_client
):
    """From the member's admin page: a reset link is mailed; the log-in delays are lifted."""
    member = make_user("m@example.com")
    guesser = new_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] + 1):
        guesser.post("/auth/login", data={"email": "m@example.com", "password": "nope nope"})
    assert (
        guesser.post(
            "/auth/login", data={"email": "m@example.com", "password": PASSWORD}
        ).status_code
        == 429
    )
    login_as(admin)
    assert (
        client.post(
            f"/admin/members/{member.id}/reset-link", data={"account-reason": ""}
        ).status_code
        == 400
    )  # a reason is required
    r = client.post(
        f"/admin/members/{member.id}/reset-link",
        data={"account-reason": "member phoned, locked out"},
    )
    assert r.status_code == 303
    assert [m.to_addr for m in db.session.scalars(select(OutboxMail))] == ["m@example.com"]
    r = client.post(f"/admin/members/{member.id}/unlock", data={"account-reason": "verified"})
    assert r.status_code == 303
    assert (
        guesser.post(
            "/auth/login", data={"email": "m@example.com", "password": PASSWORD}
        ).status_code
        == 302
    )


def test_an_e_mail_change_is_confirmed_at_the_new_address(
    client, db, make_user, login_as, new_client
):
    """The address changes only when the link mailed to the new one is opened, once."""
    member = make_user("old@example.com")
    login_as(member)
    other = login_as(member, browser=new_client())
    wrong = client.post("/auth/email", data={"email": "new@example.com", "current": "nope"})
    assert wrong.status_code == 400
    make_user("taken@example.com")
    taken = client.post("/auth/email", data={"email": "taken@example.com", "current": PASSWORD})
    assert taken.status_code == 400 and b"Another account uses that address" in taken.data
    r = client.post("/auth/email", data={"email": "new@example.com", "current": PASSWORD})
    assert r.status_code == 302
    mail = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id.desc())).first()
    assert mail is not None and mail.to_addr == "new@example.com"
    found = re.search(r"https?://\S+/auth/email/\S+", mail.text_body)
    assert found is not None
    link = found.group(0).split("localhost")[1]
    db.session.expire_all()
    assert db.session.get(type(member), member.id).email == "old@example.com"  # not yet
    assert client.get(link).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(member), member.id).email == "new@example.com"
    assert other.get("/account").status_code == 302  # the other session ended
    again = client.get(link, follow_redirects=True).data.decode()
    assert "expired, was already used" in again


@pytest.mark.parametrize("host", ["evil.example", "evil.example:443", "localhost.evil.example"])
def test_a_forged_host_header_never_reaches_a_reset_link(app, client, db, make_user, host):
    """With PUBLIC_URL set, does a reset asked for with someone else's Host header still
    mail a link to the site itself (a link to their host would hand them the token)?"""
    app.config["PUBLIC_URL"] = "https://members.example.com/"
    make_user("m@example.com")
    r = client.post("/auth/reset", data={"email": "m@example.com"}, headers={"Host": host})
    assert r.status_code == 302
    mail = db.session.scalars(select(OutboxMail)).one()
    links = re.findall(r"https?://[^\s\"<]+", mail.text_body + mail.html_body)
    assert links and all(u.startswith("https://members.example.com/auth/reset/") for u in links)
    assert "evil" not in mail.text_body + mail.html_body


def test_an_email_change_link_goes_to_the_site_too(app, client, db, make_user, login_as):
    """Is the e-mail-change confirmation link built from PUBLIC_URL, not from the address
    the request came to?"""
    app.config["PUBLIC_URL"] = "https://members.example.com"
    login_as(make_user("m@example.com"))
    r = client.post("/auth/email", data={"email": "new@example.com", "current": PASSWORD})
    assert r.status_code == 302
    mail = db.session.scalars(select(OutboxMail)).one()
    assert "https://members.example.com/auth/email/" in mail.text_body
    assert "localhost" not in mail.text_body + mail.html_body

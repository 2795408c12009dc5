"""Private feeds and personal access tokens: what each shows, to whom, and when it stops."""

from __future__ import annotations

import re
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from gateway.subscriptions import admin_actions
from gateway.tokens import service
from models import MemberToken
from models.token import API, FEED

ATOM = "{http://www.w3.org/2005/Atom}"
AFTER_MARKER = "Every premium article, guide and download lives here."
PREVIEW = "The premium library's public preview."


@pytest.fixture
def member(make_user):
    return make_user("member@example.com")


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium")


def grant(db, admin, member, plan, clock, days=30):
    sub = admin_actions.grant(
        admin, member, plan, clock.now() + timedelta(days=days), "test grant", clock.now()
    )
    db.session.commit()
    return sub


def secret_for(db, user, kind):
    _, secret = service.rotate_feed(user) if kind == FEED else service.create(user, API, "t")
    db.session.commit()
    return secret


def entry(client, secret, path):
    r = client.get(f"/feed/{secret}")
    assert r.status_code == 200
    feed = ET.fromstring(r.data)
    for e in feed.iter(f"{ATOM}entry"):
        if e.find(f"{ATOM}link").get("href").endswith(path):  # type: ignore[union-attr]
            return r, e.find(f"{ATOM}content").text or ""  # type: ignore[union-attr]
    raise AssertionError(f"no entry for {path}")


def test_feed_shows_a_holder_the_whole_page(client, db, admin, member, premium, clock):
    """Does the feed carry the whole premium page for a member holding premium, as Atom,
    privately cached, with absolute links?"""
    grant(db, admin, member, premium, clock)
    secret = secret_for(db, member, FEED)
    r, content = entry(client, secret, "/premium")
    assert r.mimetype == "application/atom+xml"
    assert r.headers["Cache-Control"] == "private, no-cache"
    assert AFTER_MARKER in content
    assert b'href="http://localhost/premium"' in r.data
    assert "Set-Cookie" not in r.headers


def test_feed_shows_others_only_the_preview(client, db, admin, member, premium, clock):
    """Without the role, and after access lapses, is the text after the marker never in
    the feed, anywhere in it, with a way to subscribe instead?"""
    secret = secret_for(db, member, FEED)
    r, content = entry(client, secret, "/premium")
    assert PREVIEW in content and "Subscribe to read the rest" in content
    assert AFTER_MARKER.encode() not in r.data
    sub = grant(db, admin, member, premium, clock)
    assert AFTER_MARKER in entry(client, secret, "/premium")[1]
    clock.set(sub.access_until)  # lapsed
    r, content = entry(client, secret, "/premium")
    assert PREVIEW in content
    assert AFTER_MARKER.encode() not in r.data


def test_admin_feed_shows_everything(client, db, admin):
    secret = secret_for(db, admin, FEED)
    assert AFTER_MARKER in entry(client, secret, "/premium")[1]


def test_rotated_feed_address_stops_at_once(client, db, member):
    old = secret_for(db, member, FEED)
    assert client.get(f"/feed/{old}").status_code == 200
    new = secret_for(db, member, FEED)
    assert client.get(f"/feed/{old}").status_code == 404
    assert client.get(f"/feed/{new}").status_code == 200
    assert client.get("/feed/tg_feed_nonsense").status_code == 404
    # An API token is no feed address.
    assert client.get(f"/feed/{secret_for(db, member, API)}").status_code == 404


def test_bearer_token_reads_as_its_member_without_a_session(
    client, db, admin, member, make_user, premium, clock
):
    """200 for a holder, 403 with the preview for a non-holder; never a cookie."""
    grant(db, admin, member, premium, clock)
    holder = {"Authorization": f"Bearer {secret_for(db, member, API)}"}
    r = client.get("/premium", headers=holder)
    assert r.status_code == 200 and AFTER_MARKER.encode() in r.data
    assert "Set-Cookie" not in r.headers
    assert client.get("/", headers=holder).status_code == 200
    other = {"Authorization": f"Bearer {secret_for(db, make_user('b@example.com'), API)}"}
    r = client.get("/premium", headers=other)
    assert r.status_code == 403 and AFTER_MARKER.encode() not in r.data
    assert "Set-Cookie" not in r.headers
    assert client.get_cookie("session") is None


def test_bearer_token_over_a_browser_session_is_the_token(
    client, db, admin, member, make_user, premium, clock, login_as
):
    """A token sent with a holder's session cookie is judged as the token's member, and
    the session is left as it was."""
    grant(db, admin, member, premium, clock)
    login_as(member)
    other = {"Authorization": f"Bearer {secret_for(db, make_user('b@example.com'), API)}"}
    r = client.get("/premium", headers=other)
    assert r.status_code == 403 and "Set-Cookie" not in r.headers
    assert client.get("/premium").status_code == 200


def test_wrong_or_revoked_token_is_401(client, db, member):
    secret = secret_for(db, member, API)
    assert client.get("/", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    token = db.session.scalar(select(MemberToken).where(MemberToken.user_id == member.id))
    service.revoke(token)
    db.session.commit()
    for value in (secret, "tg_pat_wrong", "nonsense"):
        r = client.get("/premium", headers={"Authorization": f"Bearer {value}"})
        assert r.status_code == 401, value
        assert r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_tokens_only_read(client, db, member):
    """A POST with a token (a form, log-out) is refused before anything acts, and a token
    opens no account page."""
    headers = {"Authorization": f"Bearer {secret_for(db, member, API)}"}
    before = member.session_token
    assert client.post("/auth/logout-everywhere", headers=headers).status_code == 403
    assert (
        client.post("/account/tokens/api", headers=headers, data={"label": "x"}).status_code == 403
    )
    assert client.post("/premium", headers=headers).status_code == 403
    assert client.get("/account", headers=headers).status_code == 403
    db.session.expire_all()
    assert member.session_token == before
    assert len(service.live(member.id)) == 1


def test_last_used_is_written_at_most_hourly(client, db, member, clock):
    secret = secret_for(db, member, API)
    headers = {"Authorization": f"Bearer {secret}"}
    client.get("/", headers=headers)
    token = db.session.scalar(select(MemberToken).where(MemberToken.user_id == member.id))
    first = token.last_used_at
    assert first == clock.now()
    clock.advance(minutes=59)
    client.get("/", headers=headers)
    db.session.expire_all()
    assert token.last_used_at == first
    clock.advance(minutes=1)
    client.get("/", headers=headers)
    db.session.expire_all()
    assert token.last_used_at == clock.now()


def test_tokens_page_shows_a_secret_once(client, db, member, login_as):
    """The secret is in the answer to the POST that made it, never on the page after;
    the table holds its digest, not the secret."""
    login_as(member)
    assert client.get("/account/tokens").status_code == 200
    r = client.post("/account/tokens/api", data={"label": "backup script"})
    secret = re.search(rb"tg_pat_[A-Za-z0-9_-]{43}", r.data).group().decode()  # type: ignore[union-attr]
    r = client.post("/account/tokens/feed")
    feed = re.search(rb"http://localhost/feed/(tg_feed_[A-Za-z0-9_-]{43})", r.data)
    assert feed is not None
    page = client.get("/account/tokens").data.decode()
    assert "backup script" in page and secret[:8] in page
    assert secret not in page and feed.group(1).decode() not in page
    assert "tg_pat_" + secret[7:12] not in page.replace(secret[:8], "")
    rows = db.session.scalars(select(MemberToken)).all()
    assert {t.digest for t in rows} == {
        service.digest_of(secret),
        service.digest_of(feed.group(1).decode()),
    }
    assert all(not t.digest.startswith("tg_") for t in rows)
    assert client.post("/account/tokens/api", data={"label": " "}).status_code == 400


def test_revoke_from_the_page(client, db, member, make_user, login_as):
    login_as(member)
    secret = secret_for(db, member, API)
    token = service.live(member.id)[0]
    other = make_user("b@example.com")
    theirs = service.create(other, API, "theirs")[0]
    db.session.commit()
    assert client.post(f"/account/tokens/{theirs.id}/revoke").status_code == 404
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 303
    assert client.get("/", headers={"Authorization": f"Bearer {secret}"}).status_code == 401

"""The door of PayPal's endpoints: a flooding sender is refused (429, Retry-After, body
unread, nothing stored), PayPal's ranges never are, the limit is shared out between web
processes, and the sender is read through our proxies only."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from gateway import ConfigError, create_app
from gateway.flood.guard import guard
from models import IntakeRefusal, Notification
from tests.conftest import CONFIG

from .conftest import FLOODER, FORM, OTHER, PAYPAL, SMALL, post

small = pytest.mark.parametrize("app", [SMALL], indirect=True)


def stored(db) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(Notification.remote_addr).order_by(Notification.id)))


@small
@pytest.mark.parametrize("path", ["/paypal/ipn", "/paypal/ipn?via=flask", "/paypal/webhook"])
def test_a_flooding_sender_is_refused_and_nothing_of_it_stored(app, client, db, seconds, path):
    """Past its burst a sender gets 429 with Retry-After, on the fast path and through
    Flask's view alike; its body is not stored; once a token has come back it is served."""
    answers = [post(client, FLOODER, path) for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    refused = answers[-1]
    assert refused.headers["Retry-After"] == "10"  # one token every 10 s
    assert b"Too many messages" in refused.data
    assert refused.headers["X-Frame-Options"] == "DENY"  # the security headers too
    assert stored(db) == [FLOODER] * 3
    seconds.advance(9)
    assert post(client, FLOODER, path).status_code == 429
    seconds.advance(1)
    assert post(client, FLOODER, path).status_code == 200
    assert stored(db) == [FLOODER] * 4


@small
def test_paypal_is_never_refused_and_others_are_not_punished(app, client, db, seconds):
    """PayPal's range is never limited, however fast it sends; another sender keeps its
    own allowance while a flooder is refused."""
    for _ in range(5):
        post(client, FLOODER)
    assert all(post(client, PAYPAL).status_code == 200 for _ in range(40))
    assert post(client, OTHER).status_code == 200
    assert post(client, FLOODER).status_code == 429
    assert stored(db).count(PAYPAL) == 40


@pytest.mark.parametrize(
    "app", [SMALL | {"INTAKE_OTHERS_PER_MINUTE": 6, "INTAKE_OTHERS_BURST": 4}], indirect=True
)
def test_all_senders_together_get_503_past_the_overall_limit(app, client, db, seconds):
    """Many senders, each within its own limit: past the overall limit, 503 with
    Retry-After; PayPal still passes."""
    codes = [post(client, f"203.0.113.{i}").status_code for i in range(1, 7)]
    assert codes == [200, 200, 200, 200, 503, 503]
    assert post(client, PAYPAL).status_code == 200
    r = post(client, "203.0.113.99")
    assert r.status_code == 503 and r.headers["Retry-After"] == "10"


@pytest.mark.parametrize(
    "app", [SMALL | {"INTAKE_WEB_PROCESSES": 3, "INTAKE_SOURCE_BURST": 6}], indirect=True
)
def test_each_web_process_allows_its_share(app, client, seconds):
    """Three web processes: each allows a third of the site-wide burst (6 -> 2) and rate
    (6 a minute -> one every 30 s)."""
    assert [post(client, FLOODER).status_code for _ in range(3)] == [200, 200, 429]
    assert post(client, FLOODER).headers["Retry-After"] == "30"


@small
def test_an_ipv6_sender_is_its_slash_64(app, client, seconds):
    """Addresses of one IPv6 /64 (one customer's line) share a sender's allowance."""
    codes = [post(client, f"2001:db8:1:2::{i}").status_code for i in range(1, 5)]
    assert codes == [200, 200, 200, 429]
    assert post(client, "2001:db8:1:3::1").status_code == 200


BEHIND = SMALL | {"PROXY_FIX": {"x_for": 1}, "TRUSTED_PROXIES": ["10.0.0.1"]}


@pytest.mark.parametrize("app", [BEHIND], indirect=True)
def test_behind_our_proxy_the_forwarded_sender_counts(app, client, db, seconds):
    """Through our proxy: the sender its X-Forwarded-For names is limited and stored
    (PayPal's address named there is never limited); the proxy itself is not the sender."""
    via = {"HTTP_X_FORWARDED_FOR": FLOODER}
    assert [post(client, "10.0.0.1", environ=via).status_code for _ in range(4)] == [200] * 3 + [
        429
    ]
    paypal = {"HTTP_X_FORWARDED_FOR": PAYPAL}
    assert all(post(client, "10.0.0.1", environ=paypal).status_code == 200 for _ in range(10))
    assert stored(db) == [FLOODER] * 3 + [PAYPAL] * 10


@pytest.mark.parametrize("app", [BEHIND], indirect=True)
def test_a_forged_forwarded_for_from_anyone_else_is_ignored(app, client, db, seconds):
    """A sender that is not our proxy names PayPal in X-Forwarded-For: it is limited as
    itself and stored as itself (ProxyFix alone would have believed it)."""
    forged = {"HTTP_X_FORWARDED_FOR": PAYPAL}
    assert [post(client, OTHER, environ=forged).status_code for _ in range(4)] == [200] * 3 + [429]
    assert stored(db) == [OTHER] * 3


@small
def test_our_proxy_naming_no_sender_is_never_limited(app, client, seconds, caplog):
    """Behind a proxy without PROXY_FIX every POST comes from the proxy, PayPal's too:
    limiting that address would refuse PayPal, so it is not limited, and the log says
    what to set."""
    with caplog.at_level(logging.WARNING):
        assert all(post(client, "127.0.0.1").status_code == 200 for _ in range(10))
    assert "set PROXY_FIX's x_for" in caplog.text


class Unreadable:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readlines = read

    def tell(self) -> int:  # werkzeug's test client asks where the stream stands
        return 0

    def seek(self, *args) -> int:
        return 0


class Counted:
    """A chunked body of `size` bytes that counts what was read of it."""

    def __init__(self, size: int) -> None:
        self.left, self.taken = size, 0

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        self.taken += n
        return b"a" * n

    def tell(self) -> int:
        return 0

    def seek(self, *args) -> int:
        return 0


@small
@pytest.mark.parametrize(
    ("path", "limit"), [("/paypal/ipn", 64 * 1024), ("/paypal/webhook", 256 * 1024)]
)
def test_413_without_reading_the_body(app, client, db, seconds, path, limit):
    """A body announced over the limit: 413 and not a byte read; a chunked one over the
    limit: 413 once one byte past the limit is read, never the rest."""
    r = client.post(
        path,
        input_stream=Unreadable(),
        content_type=FORM,
        environ_base={"REMOTE_ADDR": PAYPAL},
        environ_overrides={"CONTENT_LENGTH": str(limit + 1)},  # under MAX_CONTENT_LENGTH
    )
    assert r.status_code == 413 and b"never this large" in r.data
    assert r.headers["Connection"] == "close"  # the server must not read the rest either
    body = Counted(50 * 1024 * 1024)
    r = client.post(
        path,
        input_stream=body,
        content_type=FORM,
        headers={"Transfer-Encoding": "chunked"},
        environ_base={"REMOTE_ADDR": PAYPAL},
        environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    )
    assert r.status_code == 413 and body.taken == limit + 1
    assert r.headers["Connection"] == "close"
    assert stored(db) == []


@small
@pytest.mark.parametrize("path", ["/paypal/ipn", "/paypal/ipn?via=flask"])
def test_a_refused_body_is_never_read_and_a_long_one_closes_the_connection(
    app, client, seconds, path
):
    """A refused POST's body is not read; one announcing more than the limit (or no
    length) gets the connection closed, so the server does not read it either."""
    for _ in range(3):
        post(client, FLOODER, path)
    short = post(client, FLOODER, path)
    assert short.status_code == 429 and "Connection" not in short.headers  # kept alive
    for length, chunked in ((str(64 * 1024 + 1), {}), ("", {"Transfer-Encoding": "chunked"})):
        r = client.post(
            path,
            input_stream=Unreadable(),
            content_type=FORM,
            headers=chunked,
            environ_base={"REMOTE_ADDR": FLOODER},
            environ_overrides={"CONTENT_LENGTH": length, "wsgi.input_terminated": True},
        )
        assert r.status_code == 429 and r.headers["Connection"] == "close"


@small
def test_refusals_are_counted_for_everyone_to_see(app, client, db, seconds):
    """Every refusal reaches the metrics at once and the database at the first refusal and
    then at most once a minute a process (the status page reads those)."""
    for _ in range(8):
        post(client, FLOODER)  # 3 stored, 5 refused
    post(client, OTHER, body=b"x" * (70 * 1024))  # too large
    counter = app.extensions["metrics"].intake_refused
    assert counter.labels(channel="ipn", reason="source")._value.get() == 5
    assert counter.labels(channel="ipn", reason="too_large")._value.get() == 1
    db.session.rollback()
    assert db.session.scalar(select(func.sum(IntakeRefusal.refused))) == 1  # the first, at once
    guard(app).refusals.flush()
    db.session.rollback()
    rows = db.session.execute(
        select(IntakeRefusal.source, IntakeRefusal.reason, func.sum(IntakeRefusal.refused))
        .group_by(IntakeRefusal.source, IntakeRefusal.reason)
        .order_by(IntakeRefusal.source)
    ).all()
    assert [tuple(r) for r in rows] == [(OTHER, "too_large", 1), (FLOODER, "source", 5)]


@pytest.mark.parametrize(
    "setting",
    [
        {"TRUSTED_PROXIES": ["proxy.example"]},
        {"INTAKE_PAYPAL_NETWORKS": ["173.0.80.0/33"]},
        {"INTAKE_SOURCE_PER_MINUTE": "many"},
    ],
)
def test_a_setting_that_is_not_a_network_or_a_number_stops_the_start(setting, tmp_path):
    with pytest.raises(ConfigError, match="GATEWAY_INTAKE_"):
        create_app(CONFIG | setting, instance_path=str(tmp_path))

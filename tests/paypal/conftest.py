"""A live gateway and a live stand-in, talking over loopback HTTP as in production."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Notification
from tests.inbox import process_due
from tests.servers import serve
from tests.sim_session import SimSession


@pytest.fixture
def live(app, sim_app, db, clock, sim_clock):
    """The gateway served on a port, pointed at the stand-in; messages processed on demand."""
    app.config.update(PAYPAL_SIM_URL=sim_app.base_url, PAYPAL_TIMEOUT=2)
    app.extensions.pop("ipn_verifier", None)
    with serve(app) as url:
        app.config["PUBLIC_URL"] = url
        yield Live(app, url, sim_app, db, clock, sim_clock)


class Live:
    def __init__(self, app, url, sim_app, db, clock, sim_clock):
        self.app, self.url, self.sim_app, self.db = app, url, sim_app, db
        self.clock, self.sim_clock = clock, sim_clock
        self.paypal = SimSession(sim_app.base_url)

    def advance(self, **delta) -> None:
        """Move both clocks; the stand-in bills what fell due, then delivers."""
        self.clock.advance(**delta)
        self.paypal.control("clock/advance", seconds=timedelta(**delta).total_seconds())
        self.settle()

    def settle(self) -> int:
        """Deliver everything due, then process the gateway's inbox until it is quiet."""
        handled = 0
        for _ in range(10):
            sent = self.paypal.deliver()
            done = process_due()
            handled += done
            if not sent and not done:
                break
        self.db.session.expire_all()
        return handled

    def subscribe(self, client, login_as, user, plan_code="premium-monthly", **sim_form):
        """Member clicks Subscribe; the browser carries our button to PayPal and approves."""
        login_as(user)
        page = client.post(f"/checkout/subscribe/{plan_code}")
        assert page.status_code == 200, page.data
        html = page.data.decode()
        form = re.search(r'form id="paypal" method="post" action="([^"]+)"', html)
        assert form is not None, html
        action = form.group(1)
        import html as h

        fields = {
            k: h.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
        }
        fields.update(sim_form)
        approve = self.paypal.http.post(action, data=fields, timeout=5)
        assert approve.status_code == 200, approve.text
        hidden = {
            k: h.unescape(v)
            for k, v in re.findall(r'name="(f_[a-z0-9_]+)" value="([^"]*)"', approve.text)
        }
        back = self.paypal.http.post(
            self.paypal.url("/sim/checkout/standard"),
            data={
                **hidden,
                "decision": "approve",
                "email": "buyer@example.com",
                "first_name": "José",
                "last_name": "Müller",
            },
            allow_redirects=False,
            timeout=5,
        )
        assert back.status_code == 303
        return fields["custom"], back.headers["Location"]

    def notes(self) -> list[Notification]:
        return list(self.db.session.scalars(select(Notification).order_by(Notification.id)))


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium", price="9.00")


@pytest.fixture
def member(make_user):
    return make_user("member@example.com")


class StubVerifier:
    """Answers the postback with a set word (the real postback is tested against the sim)."""

    def __init__(self, answer: str = "VERIFIED") -> None:
        self.answer = answer
        self.calls: list[bytes] = []

    def verify(self, raw: bytes) -> str:
        self.calls.append(raw)
        return self.answer


@pytest.fixture
def verified(app):
    """Postbacks answer VERIFIED (changeable), and messages wait for an explicit process call."""
    stub = StubVerifier()
    app.extensions["ipn_verifier"] = stub
    return stub


@pytest.fixture
def ready(app, verified, make_plan):
    """The demo's monthly plan exists and postbacks verify."""
    make_plan("premium-monthly", role="premium", price="9.00")
    return app


WEBHOOK_ID = "WH-TOLLGATE-TEST"


@pytest.fixture
def rest(live, app, make_plan, sim):
    """`live`, with the gateway's webhook registered at the stand-in (PayPal's
    developer dashboard) and a monthly REST plan on sale."""
    app.config.update(PAYPAL_WEBHOOK_ID=WEBHOOK_ID)
    for key in ("paypal_api", "webhook_certs"):
        app.extensions.pop(key, None)
    live.paypal.control("webhooks", id=WEBHOOK_ID, url=f"{live.url}/paypal/webhook")
    make_plan("premium-monthly", role="premium", price="9.00", paypal_plan_id="P-MONTHLY")
    return live

"""Where a member goes once PayPal confirmed: the page they came from, when a subscribe
button (the gate's paywall) named one. Kept in the session beside the checkout's token,
checked against the same return policy as the log-in (access_rules.returns), for the Standard
and the REST waiting page alike."""

from __future__ import annotations

from flask import current_app, request, session

from models import Checkout

from ..access_rules import returns

#: Session key: (checkout token, where the member goes once PayPal confirmed it).
KEY = "checkout_return"


def remember(checkout: Checkout) -> None:
    """The subscribe form's `next`, if it is one the log-in would return to as well."""
    hosts = current_app.extensions["return_hosts"]
    target = returns.allowed(request.form.get("next"), request.host, hosts)
    if target is not None:
        session[KEY] = (checkout.token, target)
    else:
        session.pop(KEY, None)


def of(checkout: Checkout | None) -> str | None:
    """The way back remembered for `checkout`, if any."""
    kept = session.get(KEY)
    if checkout is None or not kept or kept[0] != checkout.token:
        return None
    return str(kept[1])

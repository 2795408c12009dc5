"""REST OAuth2: client-credentials access tokens, and the `bearer` guard every API call uses."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from flask import jsonify, request

from .errors import api_error
from .formats import new_id, rfc3339
from .rest_base import bp, current_sim
from .state import NotFound, Refused

SCOPES = " ".join(
    [
        "https://uri.paypal.com/services/subscriptions",
        "https://uri.paypal.com/services/reporting/search/read",
        "https://uri.paypal.com/services/applications/webhooks",
        "https://uri.paypal.com/services/applications/verify-webhook-signature",
        "https://api.paypal.com/v1/payments/.*",
    ]
)


@bp.route("/v1/oauth2/token", methods=["POST"])
def token():
    sim = current_sim()
    acct = sim.world.account
    auth = request.authorization
    if (
        auth is None
        or auth.type != "basic"
        or (auth.username, auth.password) != (acct.client_id, acct.client_secret)
    ):
        return jsonify(
            error="invalid_client", error_description="Client Authentication failed"
        ), 401
    if request.form.get("grant_type") != "client_credentials":
        return jsonify(error="unsupported_grant_type", error_description="Grant Type is NULL"), 400
    value = "A21AA" + secrets.token_urlsafe(60)
    with sim.world.lock:
        sim.world.tokens[value] = sim.clock.now() + timedelta(seconds=acct.token_lifetime)
    return jsonify(
        scope=SCOPES,
        access_token=value,
        token_type="Bearer",
        app_id="APP-SIM0001",
        expires_in=acct.token_lifetime,
        nonce=f"{rfc3339(sim.clock.now())}{new_id()}",
    )


def bearer(view: Callable) -> Callable:
    """Run the view under the world's lock for a live token; map NotFound/Refused to API errors."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        sim = current_sim()
        header = request.headers.get("Authorization", "")
        value = header[7:] if header.startswith("Bearer ") else ""
        expiry = sim.world.tokens.get(value)
        if expiry is None or expiry <= sim.clock.now():
            return jsonify(
                error="invalid_token", error_description="Token signature verification failed"
            ), 401
        try:
            with sim.world.lock:
                return view(*args, **kwargs)
        except NotFound as e:
            return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", str(e))
        except Refused as e:
            return api_error("UNPROCESSABLE_ENTITY", "SUBSCRIPTION_STATUS_INVALID", str(e))

    return wrapped

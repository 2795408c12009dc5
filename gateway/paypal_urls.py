"""PayPal endpoints by mode; explicit settings win. Chosen by config, never by a message."""

from __future__ import annotations

from collections.abc import Mapping

ENDPOINTS = {
    "live": {
        "webscr": "https://www.paypal.com/cgi-bin/webscr",
        "postback": "https://ipnpb.paypal.com/cgi-bin/webscr",
    },
    "sandbox": {
        "webscr": "https://www.sandbox.paypal.com/cgi-bin/webscr",
        "postback": "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr",
    },
}


def endpoints(config: Mapping) -> dict[str, str]:
    """The webscr and postback URLs for the configured mode."""
    mode = config["PAYPAL_MODE"]
    if mode == "sim":
        base = config["PAYPAL_SIM_URL"].rstrip("/")
        defaults = {"webscr": f"{base}/cgi-bin/webscr", "postback": f"{base}/cgi-bin/webscr"}
    else:
        defaults = ENDPOINTS[mode]
    return {
        "webscr": config["PAYPAL_WEBSCR_URL"] or defaults["webscr"],
        "postback": config["PAYPAL_IPN_POSTBACK_URL"] or defaults["postback"],
    }


def manage_url(config: Mapping) -> str:
    """Where a member manages (and cancels) a Standard subscription: PayPal's own page."""
    mode = config["PAYPAL_MODE"]
    if mode == "sim":
        return f"{config['PAYPAL_SIM_URL'].rstrip('/')}/sim/"
    host = "www.sandbox.paypal.com" if mode == "sandbox" else "www.paypal.com"
    return f"https://{host}/myaccount/autopay/"

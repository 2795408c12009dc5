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


API_BASES = {"live": "https://api-m.paypal.com", "sandbox": "https://api-m.sandbox.paypal.com"}
#: Where PayPal serves webhook signing certificates (docs/paypal.md §8).
CERT_HOSTS = {
    "live": ("https://api.paypal.com", "https://api-m.paypal.com"),
    "sandbox": ("https://api.sandbox.paypal.com", "https://api-m.sandbox.paypal.com"),
}
CERT_PATH = "/v1/notifications/certs/"
#: The stand-in's own demo credentials (paypal_sim DEFAULTS), used in sim mode when unset.
SIM_CREDENTIALS = ("sim-client-id", "sim-client-secret")


def api_base(config: Mapping) -> str:
    """The REST API's base URL for the configured mode."""
    if config["PAYPAL_API_URL"]:
        return str(config["PAYPAL_API_URL"]).rstrip("/")
    if config["PAYPAL_MODE"] == "sim":
        return str(config["PAYPAL_SIM_URL"]).rstrip("/")
    return API_BASES[config["PAYPAL_MODE"]]


def api_credentials(config: Mapping) -> tuple[str, str]:
    """(client id, secret); in sim mode the stand-in's defaults fill in what is unset."""
    client_id, secret = config["PAYPAL_CLIENT_ID"], config["PAYPAL_CLIENT_SECRET"]
    if config["PAYPAL_MODE"] == "sim" and not (client_id and secret):
        return SIM_CREDENTIALS
    return str(client_id), str(secret)


def cert_prefixes(config: Mapping) -> tuple[list[str], list[str]]:
    """(URL prefixes a webhook certificate may be fetched from, prefixes whose self-signed
    certificate is trusted as is). Only the mode's own PayPal hosts: a sandbox webhook is
    refused by a live site, because its certificate URL is not on the live list. In sim
    mode, only the configured stand-in."""
    mode = config["PAYPAL_MODE"]
    if mode == "sim":
        sim = str(config["PAYPAL_SIM_URL"]).rstrip("/") + CERT_PATH
        return [sim], [sim]
    return [host + CERT_PATH for host in CERT_HOSTS[mode]], []


def manage_url(config: Mapping) -> str:
    """Where a member manages (and cancels) a Standard subscription: PayPal's own page."""
    mode = config["PAYPAL_MODE"]
    if mode == "sim":
        return f"{config['PAYPAL_SIM_URL'].rstrip('/')}/sim/"
    host = "www.sandbox.paypal.com" if mode == "sandbox" else "www.paypal.com"
    return f"https://{host}/myaccount/autopay/"

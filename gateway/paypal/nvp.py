"""PayPal's classic NVP API, for the one call the Subscriptions API has no twin of:
cancelling a Payments Standard subscription (ManageRecurringPaymentsProfileStatus with
PROFILEID = its subscr_id, I-... or S-...).

Form-encoded both ways; PayPal answers 200 whatever happened and says it in `ACK`
(Success, SuccessWithWarning, Failure) with `L_ERRORCODE0` / `L_LONGMESSAGE0`.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from .api import USER_AGENT, ApiError

VERSION = "204.0"
NVP_URLS = {
    "live": "https://api-3t.paypal.com/nvp",
    "sandbox": "https://api-3t.sandbox.paypal.com/nvp",
}
#: PayPal's "Invalid profile status for cancel action": the profile is already cancelled
#: (or expired); what we wanted, so the caller asks PayPal's state either way.
NOT_CANCELLABLE = "11556"


def nvp_url(config: Mapping) -> str:
    if config["PAYPAL_NVP_URL"]:
        return str(config["PAYPAL_NVP_URL"])
    if config["PAYPAL_MODE"] == "sim":
        return str(config["PAYPAL_SIM_URL"]).rstrip("/") + "/nvp"
    return NVP_URLS[config["PAYPAL_MODE"]]


def configured(config: Mapping) -> bool:
    """Classic API credentials are set: Standard subscriptions can be cancelled here."""
    return all(
        config[k] for k in ("PAYPAL_NVP_USER", "PAYPAL_NVP_PASSWORD", "PAYPAL_NVP_SIGNATURE")
    )


def manage_profile(config: Mapping, profile_id: str, action: str, note: str) -> dict[str, str]:
    """ManageRecurringPaymentsProfileStatus; PayPal's answer fields. Raises ApiError
    (`name` = PayPal's error code) on a Failure or no answer. Not retried: the caller
    asks PayPal's state afterwards, so a lost answer costs one more click at most."""
    import requests

    if not profile_id or len(profile_id) > 64 or not profile_id.replace("-", "").isalnum():
        raise ApiError(f"not a PayPal profile id: {profile_id[:70]!r}")
    form = {
        "USER": config["PAYPAL_NVP_USER"],
        "PWD": config["PAYPAL_NVP_PASSWORD"],
        "SIGNATURE": config["PAYPAL_NVP_SIGNATURE"],
        "METHOD": "ManageRecurringPaymentsProfileStatus",
        "VERSION": VERSION,
        "PROFILEID": profile_id,
        "ACTION": action,
        "NOTE": note[:255],
    }
    try:
        response = requests.post(
            nvp_url(config),
            data=form,
            timeout=float(config["PAYPAL_TIMEOUT"]),
            headers={"User-Agent": USER_AGENT},
        )
    except requests.RequestException as e:
        raise ApiError(f"connection failed: {type(e).__name__}", retryable=True) from e
    if response.status_code != 200:
        raise ApiError(response.text[:200], status=response.status_code, retryable=True)
    answer = dict(parse_qsl(response.text, keep_blank_values=True))
    if not answer.get("ACK", "").startswith("Success"):
        raise ApiError(
            answer.get("L_LONGMESSAGE0") or answer.get("L_SHORTMESSAGE0") or "no ACK",
            status=200,
            name=answer.get("L_ERRORCODE0", ""),
            debug_id=answer.get("CORRELATIONID", ""),
        )
    return answer

"""The classic NVP API's one call the merchant uses on subscriptions:
ManageRecurringPaymentsProfileStatus (ACTION Cancel, Suspend or Reactivate of a
PROFILEID, the subscr_id / I-... id of a Standard subscription or a recurring profile).

Form-encoded in, form-encoded out (ACK=Success, or ACK=Failure with L_ERRORCODE0 and
L_LONGMESSAGE0), signed with USER / PWD / SIGNATURE. The effect is the one the control
page's buttons have: a cancel sends subscr_cancel (or recurring_payment_profile_cancel).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, request

from .formats import new_id, rfc3339
from .rest_base import bp, current_sim
from .state import NotFound, Refused

#: PayPal's error codes for this call (NVP/SOAP API error codes).
SECURITY, BAD_PROFILE, BAD_STATUS, BAD_ACTION = "10002", "11552", "11556", "11555"


@bp.route("/nvp", methods=["POST"])
def nvp():
    sim, form = current_sim(), request.form
    acct = sim.world.account
    base = {
        "TIMESTAMP": rfc3339(sim.clock.now()),
        "CORRELATIONID": new_id("", 13).lower(),
        "VERSION": form.get("VERSION", "204.0"),
        "BUILD": "000000",
    }
    if (form.get("USER"), form.get("PWD"), form.get("SIGNATURE")) != (
        acct.nvp_user,
        acct.nvp_password,
        acct.nvp_signature,
    ):
        return _failure(base, SECURITY, "Security error", "Security header is not valid")
    if form.get("METHOD") != "ManageRecurringPaymentsProfileStatus":
        return _failure(base, "81002", "Unspecified Method", "Method Specified is not Supported")
    action, profile = form.get("ACTION", ""), form.get("PROFILEID", "")
    with sim.world.lock:
        try:
            sub = sim.world.subscription(profile)
        except NotFound:
            return _failure(base, BAD_PROFILE, "Invalid profile ID", "The profile ID is invalid")
        # PayPal: only Active or Suspended profiles cancel; only Active ones suspend.
        allowed = {"Cancel": ("ACTIVE", "SUSPENDED"), "Suspend": ("ACTIVE",)}
        allowed["Reactivate"] = ("SUSPENDED",)
        if action not in allowed:
            return _failure(base, BAD_ACTION, "Invalid action", "The action is invalid")
        if sub.status not in allowed[action]:
            return _failure(
                base,
                BAD_STATUS,
                f"Invalid profile status for {action.lower()} action",
                f"Invalid profile status for {action.lower()} action; profile should be "
                + " or ".join(s.lower() for s in allowed[action]),
            )
        try:
            {"Cancel": sim.cancel, "Suspend": sim.suspend, "Reactivate": sim.activate}[action](sub)
        except Refused as e:
            return _failure(base, BAD_STATUS, "Invalid profile status", str(e))
    return _answer({"PROFILEID": sub.id, **base, "ACK": "Success"})


def _failure(base: dict[str, str], code: str, short: str, long: str) -> Response:
    return _answer(
        {
            **base,
            "ACK": "Failure",
            "L_ERRORCODE0": code,
            "L_SHORTMESSAGE0": short,
            "L_LONGMESSAGE0": long,
            "L_SEVERITYCODE0": "Error",
        }
    )


def _answer(fields: dict[str, str]) -> Response:
    # NVP answers 200 with text/plain whatever the outcome; ACK says it.
    return Response(urlencode(fields), mimetype="text/plain")

"""REST webhook endpoints: registration, the signing certificate, verify-webhook-signature."""

from __future__ import annotations

import json

from flask import Response, jsonify, request

from .errors import api_error
from .formats import new_id
from .rest_base import bp, current_sim, json_body
from .rest_oauth import bearer
from .state import Webhook
from .webhooks import CERT_ID, signed_message


@bp.route("/v1/notifications/webhooks", methods=["POST", "GET"])
@bearer
def webhooks_collection():
    sim = current_sim()
    if request.method == "GET":
        return jsonify(
            webhooks=[
                {"id": h.id, "url": h.url, "event_types": [{"name": n} for n in h.event_types]}
                for h in sim.world.webhooks.values()
            ]
        )
    body = json_body()
    if not str(body.get("url", "")).startswith(("http://", "https://")):
        return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX", "url is required", "/url")
    names = [e.get("name", "*") for e in body.get("event_types") or [{"name": "*"}]]
    hook = Webhook(new_id("", 17), body["url"], names)
    sim.world.webhooks[hook.id] = hook
    return jsonify(id=hook.id, url=hook.url, event_types=[{"name": n} for n in names]), 201


@bp.route("/v1/notifications/certs/<cert_id>")
def cert(cert_id: str):
    if cert_id != CERT_ID:
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "certificate not found")
    return Response(current_sim().signer.cert_pem, mimetype="application/x-pem-file")


@bp.route("/v1/notifications/verify-webhook-signature", methods=["POST"])
@bearer
def verify_webhook_signature():
    """PayPal's postback check: HTTP 200 either way; the body says SUCCESS or FAILURE."""
    sim, body = current_sim(), json_body()
    required = (
        "auth_algo",
        "cert_url",
        "transmission_id",
        "transmission_sig",
        "transmission_time",
        "webhook_id",
        "webhook_event",
    )
    missing = [k for k in required if not body.get(k)]
    if missing:
        return api_error(
            "INVALID_REQUEST",
            "MISSING_REQUIRED_PARAMETER",
            f"missing: {', '.join(missing)}",
            f"/{missing[0]}",
        )
    # PayPal re-serialises the event it is given; so does the stand-in (as its SDKs do).
    event_bytes = json.dumps(body["webhook_event"], separators=(",", ":")).encode()
    ok = (
        body["auth_algo"] == "SHA256withRSA"
        and body["webhook_id"] in sim.world.webhooks
        and body["cert_url"].endswith(f"/v1/notifications/certs/{CERT_ID}")
        and sim.signer.verify(
            signed_message(
                body["transmission_id"], body["transmission_time"], body["webhook_id"], event_bytes
            ),
            body["transmission_sig"],
        )
    )
    return jsonify(verification_status="SUCCESS" if ok else "FAILURE")

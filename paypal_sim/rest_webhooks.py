"""REST webhook endpoints: registration, the signing certificate, verify-webhook-signature,
and the list of event notifications (for backfilling what was never delivered)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, request

from .errors import api_error
from .formats import new_id, parse_rfc3339
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


@bp.route("/v1/notifications/webhooks-events")
@bearer
def webhook_events():
    """Every event made, newest first, delivered or not (dropped, failed, still retrying).

    Filters: start_time/end_time (RFC 3339, both inclusive), event_type, transaction_id.
    Pages of `page_size` (default 10, as PayPal's); a `next` link carries on from the
    last event shown.
    """
    sim = current_sim()
    try:
        page_size = int(request.args.get("page_size", 10))
        start = parse_rfc3339(request.args["start_time"]) if "start_time" in request.args else None
        end = parse_rfc3339(request.args["end_time"]) if "end_time" in request.args else None
    except ValueError:
        return api_error(
            "INVALID_REQUEST",
            "INVALID_PARAMETER_SYNTAX",
            "page_size must be a number; start_time and end_time RFC 3339",
        )
    if not 1 <= page_size <= 300:
        return api_error(
            "INVALID_REQUEST", "INVALID_PARAMETER_VALUE", "page_size must be 1-300", "page_size"
        )
    rows = [
        e
        for e in reversed(sim.world.events)
        if (start is None or start <= parse_rfc3339(e["create_time"]))
        and (end is None or parse_rfc3339(e["create_time"]) <= end)
        and request.args.get("event_type") in (None, e["event_type"])
        and request.args.get("transaction_id") in (None, *_transaction_ids(e))
    ]
    after = request.args.get("after")
    if after:
        ids = [e["id"] for e in rows]
        rows = rows[ids.index(after) + 1 :] if after in ids else []
    page = rows[:page_size]
    links = []
    if len(rows) > page_size:
        query = {k: v for k, v in request.args.items() if k != "after"}
        query |= {"page_size": str(page_size), "after": page[-1]["id"]}
        links.append(
            {
                "href": f"{sim.base_url}/v1/notifications/webhooks-events?{urlencode(query)}",
                "rel": "next",
                "method": "GET",
            }
        )
    return jsonify(events=page, count=len(page), links=links)


def _transaction_ids(event: dict[str, Any]) -> list[str]:
    """The sale (or refund) an event is about, and the sale a refund refers to."""
    if event["resource_type"] not in ("sale", "refund"):
        return []
    resource = event["resource"]
    return [str(i) for i in (resource.get("id"), resource.get("sale_id")) if i]


@bp.route("/v1/notifications/webhooks-events/<event_id>")
@bearer
def webhook_event(event_id: str):
    event = next((e for e in current_sim().world.events if e["id"] == event_id), None)
    if event is None:
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "event not found")
    return jsonify(event)

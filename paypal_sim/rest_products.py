"""Catalog products: a REST plan names the product it sells (POST /v1/catalogs/products)."""

from __future__ import annotations

from flask import jsonify

from .errors import api_error
from .formats import new_id, rfc3339
from .rest_base import bp, current_sim, json_body
from .rest_oauth import bearer


@bp.route("/v1/catalogs/products", methods=["POST"])
@bearer
def products_create():
    body = json_body()
    name = str(body.get("name") or "").strip()
    if not name or len(name) > 127:
        return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX", "name: 1 to 127 characters")
    sim = current_sim()
    product = {
        "id": new_id("PROD-", 17),
        "name": name,
        "type": body.get("type", "SERVICE"),
        "create_time": rfc3339(sim.clock.now()),
    }
    return jsonify(product), 201

"""CORS for `/gate/me`: only the origins named in `GATE_CORS_ORIGINS` may read it with
the visitor's cookie. Any other origin gets the JSON without the CORS headers, which a
browser then keeps from the script (and a preflight with no permission at all)."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request


def allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    return origin if origin and origin in current_app.extensions["cors_origins"] else None


def _permit(response: Response) -> Response:
    origin = allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    response.vary.add("Origin")
    response.vary.add("Cookie")
    response.headers["Cache-Control"] = "no-store"
    return response


def answer_json(body: dict[str, object]) -> Response:
    return _permit(jsonify(body))


def preflight() -> Response:
    response = _permit(Response(status=204))
    if allowed_origin() is not None:
        response.headers["Access-Control-Allow-Methods"] = "GET"
        response.headers["Access-Control-Allow-Headers"] = "Authorization"
        response.headers["Access-Control-Max-Age"] = "600"
    return response

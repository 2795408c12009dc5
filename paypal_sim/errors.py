"""PayPal's REST error body: name, message, debug_id, details."""

from __future__ import annotations

from flask import jsonify

from .formats import new_id

MESSAGES = {
    "INVALID_REQUEST": "Request is not well-formed, syntactically incorrect, or violates schema.",
    "RESOURCE_NOT_FOUND": "The specified resource does not exist.",
    "UNPROCESSABLE_ENTITY": "The requested action could not be performed, semantically "
    "incorrect, or failed business validation.",
    "AUTHENTICATION_FAILURE": "Authentication failed due to invalid authentication "
    "credentials or a missing Authorization header.",
}
STATUS = {
    "INVALID_REQUEST": 400,
    "RESOURCE_NOT_FOUND": 404,
    "UNPROCESSABLE_ENTITY": 422,
    "AUTHENTICATION_FAILURE": 401,
}


def api_error(name: str, issue: str, description: str, field: str | None = None):
    detail = {"issue": issue, "description": description}
    if field:
        detail["field"] = field
    body = {
        "name": name,
        "message": MESSAGES[name],
        "debug_id": new_id("", 13).lower(),
        "details": [detail],
        "links": [
            {
                "href": "https://developer.paypal.com/docs/api/v1/billing/subscriptions#error-"
                + issue,
                "rel": "information_link",
                "method": "GET",
            }
        ],
    }
    return jsonify(body), STATUS[name]

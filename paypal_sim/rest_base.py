"""The REST API's one blueprint and the request helpers its rest_* route modules share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, request

from .engine import Sim
from .formats import parse_rfc3339

# One blueprint for every REST route, so endpoints stay "rest.<view>" whichever module holds them.
bp = Blueprint("rest", __name__)


def current_sim() -> Sim:
    return current_app.extensions["paypal_sim"]


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def time_window(start_name: str, end_name: str) -> tuple[datetime, datetime] | None:
    """Both query arguments as RFC 3339 times, or None if either is missing or malformed."""
    try:
        return parse_rfc3339(request.args[start_name]), parse_rfc3339(request.args[end_name])
    except (KeyError, ValueError):
        return None

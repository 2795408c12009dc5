"""The settle-refunds job (see gateway/refunds.py)."""

from __future__ import annotations

from datetime import datetime

from ..paypal.api import api_client
from ..refunds import settle_open


def settle_refunds(now: datetime) -> str:
    if not api_client().configured:
        return "REST API not configured: no refunds to settle"
    return settle_open(now)

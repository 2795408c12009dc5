"""PayPal's REST API as the gateway uses it: OAuth2, plans, subscriptions, refunds,
Transaction Search, webhook registration and signature verification; and the classic
NVP API's ManageRecurringPaymentsProfileStatus (nvp.py), on the same blueprint.

One blueprint (`bp`, from rest_base.py); each rest_* module adds its routes to it when
imported, so this module imports them all (in the original route order) and re-exports
the names the rest of the stand-in uses.
"""

from __future__ import annotations

# Imported for their routes; the order is the order the rules are added to the blueprint.
from . import (  # noqa: F401  # noqa: F401
    nvp,
    rest_approval,
    rest_oauth,
    rest_plans,
    rest_products,
    rest_reporting,
    rest_revise,
    rest_sales,
    rest_subscriptions,
    rest_webhooks,
)
from .rest_base import bp
from .rest_oauth import SCOPES, bearer
from .rest_plans import create_plan_from, plan_json
from .rest_reporting import T_CODES, T_STATUS
from .rest_sales import sale_json

__all__ = [
    "bp",
    "bearer",
    "SCOPES",
    "create_plan_from",
    "plan_json",
    "sale_json",
    "T_CODES",
    "T_STATUS",
]

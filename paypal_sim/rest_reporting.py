"""REST Transaction Search (/v1/reporting/transactions): 31-day window, paging, reporting lag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, jsonify, request

from .engine import Sim
from .errors import api_error
from .formats import money, rfc3339
from .rest_base import bp, current_sim, time_window
from .rest_oauth import bearer
from .state import Transaction

T_CODES = {"payment": "T0002", "refund": "T1107", "reversal": "T1106", "reversal_cancel": "T1111"}
T_STATUS = {
    "Completed": "S",
    "Partially_Refunded": "S",
    "Refunded": "V",
    "Reversed": "V",
    "Canceled_Reversal": "S",
    "Pending": "P",
    "Denied": "D",
}


@bp.route("/v1/reporting/transactions")
@bearer
def transaction_search():
    sim = current_sim()
    window = time_window("start_date", "end_date")
    if window is None:
        return api_error(
            "INVALID_REQUEST",
            "INVALID_REQUEST",
            "start_date and end_date are required in RFC 3339 format",
        )
    start, end = window
    if end < start or end - start > timedelta(days=31):
        return api_error("INVALID_REQUEST", "INVALID_REQUEST", "Date range is greater than 31 days")
    try:
        page_size = int(request.args.get("page_size", 100))
        page = int(request.args.get("page", 1))
        assert 1 <= page_size <= 500 and page >= 1
    except (ValueError, AssertionError):
        return api_error(
            "INVALID_REQUEST", "INVALID_REQUEST", "page_size must be 1-500 and page at least 1"
        )
    lag = timedelta(minutes=float(current_app.config["SIM_REPORTING_LAG_MINUTES"]))
    visible_until = sim.clock.now() - lag
    rows = sorted(
        (
            t
            for t in sim.world.transactions.values()
            if start <= t.time <= end and t.time <= visible_until
        ),
        key=lambda t: (t.time, t.id),
    )
    if request.args.get("transaction_id"):
        rows = [t for t in rows if t.id == request.args["transaction_id"]]
    if request.args.get("transaction_status"):
        rows = [t for t in rows if T_STATUS.get(t.status) == request.args["transaction_status"]]
    total_pages = max(1, -(-len(rows) // page_size))
    chunk = rows[(page - 1) * page_size : page * page_size]
    return jsonify(
        transaction_details=[_search_row(sim, t) for t in chunk],
        account_number=sim.world.account.receiver_id,
        start_date=rfc3339(start),
        end_date=rfc3339(end),
        last_refreshed_datetime=rfc3339(visible_until),
        page=page,
        total_items=len(rows),
        total_pages=total_pages,
    )


def _search_row(sim: Sim, t: Transaction) -> dict[str, Any]:
    info = {
        "paypal_account_id": sim.world.account.receiver_id,
        "transaction_id": t.id,
        "paypal_reference_id": t.parent_id or t.subscription_id,
        "paypal_reference_id_type": "TXN" if t.parent_id else "SUB",
        "transaction_event_code": T_CODES[t.kind],
        "transaction_initiation_date": rfc3339(t.time),
        "transaction_updated_date": rfc3339(t.updated or t.time),
        "transaction_amount": {"currency_code": t.currency, "value": money(t.amount)},
        "fee_amount": {"currency_code": t.currency, "value": money(-t.fee)},
        "transaction_status": T_STATUS.get(t.status, "S"),
        "custom_field": t.custom,
        "protection_eligibility": "01",
    }
    return {
        "transaction_info": info,
        "payer_info": {"email_address": t.payer_email},
        "cart_info": {"item_details": [{"item_code": t.item_number, "item_name": t.item_name}]},
    }

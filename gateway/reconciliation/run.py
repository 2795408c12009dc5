"""Reconcile with PayPal's API: Transaction Search over fully reported windows, and a
GET of each renewing REST subscription (a bounded batch per run). The daily `reconcile`
job, `flask --app app paypal reconcile` and the admin's button all run this."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from ..billing.formats.reconcile import SKEW
from ..billing.formats.reconcile_subscriptions import compare_subscription
from ..billing.formats.reported import SEARCH, from_search, windows
from ..clock import utc_day, utc_text
from ..paypal.api import ApiError, PayPalApi, api_client
from . import ours
from .session import Session

#: Pages of one window, at most (500 rows each: 5 million rows a month is beyond us).
MAX_PAGES = 10_000


class ReconcileError(RuntimeError):
    """PayPal could not be asked everything; what could be compared was recorded."""


def reconcile(now: datetime, days: int | None = None) -> str:
    """Compare, flag, backfill; returns a one-line summary. Raises ReconcileError (after
    recording all it could) if PayPal failed to answer some of it."""
    cfg = current_app.config
    api = api_client()
    if not api.configured:
        return "REST API not configured: nothing reconciled"
    if not ours.any_subscription():
        return "no PayPal subscription recorded yet: nothing to reconcile"
    span = timedelta(days=int(days or cfg["RECONCILE_DAYS"]))
    # Rows appear in Transaction Search hours late: only windows that ended before that.
    end = (now - timedelta(hours=float(cfg["RECONCILE_LAG_HOURS"]))).replace(microsecond=0)
    start = end - span
    errors: list[str] = []
    payments, reachable = _payments(api, start, end, int(cfg["RECONCILE_PAGE_SIZE"]), now, errors)
    subscriptions = (
        _subscriptions(api, now, int(cfg["RECONCILE_SUBSCRIPTION_BATCH"]), errors)
        if reachable
        else "subscriptions not asked about (PayPal did not answer)"
    )
    summary = f"{payments}; {subscriptions}"
    if errors:
        current_app.logger.warning("reconcile: %s", "; ".join(errors[:5]))
        raise ReconcileError(f"{summary}; {len(errors)} failure(s): {errors[0]}")
    return summary


def _payments(
    api: PayPalApi, start: datetime, end: datetime, page_size: int, now: datetime, errors: list[str]
) -> tuple[str, bool]:
    """Transaction Search from a little before `start` (our date of a payment and PayPal's
    may differ by moments) to `end`, window by window, page by page. Returns the summary,
    and whether PayPal answered at all (after its retries)."""
    session = Session(now)
    cuts = windows(start - SKEW, end)
    pages = 0
    unreadable: list[str] = []
    complete = reachable = True
    for a, b in cuts:
        try:
            for items in _pages(api, a, b, page_size):
                pages += 1
                rows = []
                for item in items:
                    try:
                        rows.append(from_search(item))
                    except ValueError as e:  # reported in the summary; the rest goes on
                        unreadable.append(str(e))
                session.feed(rows)
        except ApiError as e:
            errors.append(f"Transaction Search {utc_day(a)}–{utc_day(b)}: {e.for_admin()}")
            complete, reachable = False, not e.retryable
            break
    # Our payments are called unreported only if every window was read.
    tally = session.finish((start, end - SKEW) if complete else None)
    return (
        f"{SEARCH} {utc_text(start)} – {utc_text(end)} in {len(cuts)} window(s), "
        f"{pages} page(s): {tally.line()}"
        + (f", {len(unreadable)} unreadable row(s) ({unreadable[0]})" if unreadable else "")
        + ("" if complete else " (incomplete: unreported payments not looked for)"),
        reachable,
    )


def _pages(api: PayPalApi, start: datetime, end: datetime, size: int) -> Iterator[list[Any]]:
    """Each page's `transaction_details`, until PayPal's `total_pages`."""
    page = 1
    while True:
        body = api.call(
            "GET",
            "/v1/reporting/transactions",
            params={
                "start_date": f"{start:%Y-%m-%dT%H:%M:%SZ}",
                "end_date": f"{end:%Y-%m-%dT%H:%M:%SZ}",
                "fields": "all",
                "page_size": str(size),
                "page": str(page),
            },
        )
        items = body.get("transaction_details")
        items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        yield items
        try:
            total = int(body.get("total_pages") or 1)
        except (TypeError, ValueError):
            total = 1
        if page >= min(total, MAX_PAGES) or not items:
            return
        page += 1


def _subscriptions(api: PayPalApi, now: datetime, batch: int, errors: list[str]) -> str:
    """Renewing REST subscriptions of ours that PayPal says are cancelled, suspended,
    expired or unknown."""
    session = Session(now)
    mine = ours.renewing_rest(now.toordinal(), batch)
    found = []
    for sub in mine:
        try:
            theirs: dict[str, Any] | None = api.get_subscription(sub.paypal_id)
        except ApiError as e:
            if not e.not_found:
                errors.append(f"subscription {sub.paypal_id}: {e.for_admin()}")
                if e.retryable:  # PayPal is down or throttling us: the next run asks again
                    break
                continue
            theirs = None
        difference = compare_subscription(sub, theirs)
        if difference is not None:
            found.append(difference)
    session.record(found)
    t = session.tally
    return (
        f"{len(mine)} subscription(s) asked about: {t.differences} difference(s), "
        f"{t.new_flags} new flag(s)"
    )

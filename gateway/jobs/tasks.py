"""What the scheduled jobs do. Each is safe to run twice and takes `now` explicitly."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, g
from sqlalchemy import select, update

from models import Checkout, Subscription, db

from .. import mail
from ..auth.sessions import forget_ended
from ..billing.rules.statuses import CheckoutStatus
from ..dashboard import snapshots
from ..exports import job as export_job
from ..paypal.api import api_client
from ..pipeline import waiting
from ..pipeline.worker import drain, verify_budget
from ..reconciliation.run import reconcile as reconcile_now
from ..refunds.service import settle_open
from ..subscriptions import notices, seats, service
from . import lease

#: Subscriptions recomputed per run of settle-lapsed (the next run takes the rest).
SETTLE_BATCH = 500


def drain_inbox(now: datetime) -> str:
    """Process due messages batch after batch until none is due, the time budget is used,
    or the scheduler is stopping (its `Stop`, in `g.stop`: see runner.Jobs)."""
    handled = drain(budget=4 * verify_budget(current_app.config), stop=g.get("stop"))
    return f"{handled} message(s) processed"


def flag_waiting(now: datetime) -> str:
    """Flag refunds that waited DEFERRED_FLAG_AFTER_HOURS for a payment that never came
    (gateway/pipeline/waiting.py)."""
    after = timedelta(hours=float(current_app.config["DEFERRED_FLAG_AFTER_HOURS"]))
    return waiting.flag_overdue(now, after)


def send_mail(now: datetime) -> str:
    """Send the outbox (see gateway/mail.py)."""
    return mail.send_due(now)


def access_notices(now: datetime) -> str:
    """Notices about access ending soon or just ended (see gateway/subscriptions/notices.py)."""
    return notices.access_notices(now)


def expire_checkouts(now: datetime) -> str:
    """Open checkouts past their hold become expired (a later payment still links them),
    and the seats they held are free again."""
    result = db.session.execute(
        update(Checkout)
        .where(Checkout.status == CheckoutStatus.OPEN, Checkout.expires_at <= now)
        .values(status=CheckoutStatus.EXPIRED)
    )
    freed = seats.release_lapsed(now)
    db.session.commit()
    expired = result.rowcount  # type: ignore[attr-defined]
    return f"{expired} checkout hold(s) expired, {freed} seat(s) released"


def settle_lapsed(now: datetime) -> str:
    """Recompute subscriptions whose access ended after they were last computed.

    The stored state and the admin tables are then current without anyone's request, and
    anything that follows a lapse (a seat freed, a notice) happens on time.
    """
    ids = list(
        db.session.scalars(
            select(Subscription.id)
            .where(
                Subscription.access_until <= now,
                Subscription.updated_at < Subscription.access_until,
            )
            .order_by(Subscription.access_until)
            .limit(SETTLE_BATCH)
        )
    )
    for sub_id in ids:
        service.recompute(service.lock(Subscription.id == sub_id), now)
        db.session.commit()
    freed = seats.release_lapsed(now)
    db.session.commit()
    return f"{len(ids)} lapsed subscription(s) settled, {freed} seat(s) freed"


def settle_refunds(now: datetime) -> str:
    """Send again refunds whose PayPal answer was never recorded (gateway/refunds/)."""
    if not api_client().configured:
        return "REST API not configured: no refunds to settle"
    return settle_open(now)


def reconcile(now: datetime) -> str:
    """RECONCILE_DAYS back from the last fully reported moment (gateway/reconciliation/)."""
    return reconcile_now(now)


def dashboard_snapshot(now: datetime) -> str:
    """Count the dashboard's numbers now and keep them (the page's "count again" too)."""
    config = current_app.config
    stored = snapshots.store(now, int(config["GRACE_DAYS"]), int(config["LAPSING_DAYS"]))
    return f"dashboard counted in {stored.duration_ms} ms"


def forget_ended_sessions(now: datetime) -> str:
    """Forget logged-out sessions older than the session cookie's maximum age
    (PERMANENT_SESSION_LIFETIME): their cookies are refused for their age anyway."""
    forgotten = forget_ended(now - current_app.permanent_session_lifetime)
    return f"{forgotten} ended session(s) forgotten"


def exports(now: datetime) -> str:
    """Write queued admin exports to files; delete expired ones (gateway/exports/)."""
    # `lease` at call time: it imports the registry, which imports this module.
    return export_job.run(now, lease.owner_id())

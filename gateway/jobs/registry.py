"""The jobs, as data: id, interval, function, time limit. Later features add theirs here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from ..flood.retention import compact_junk
from . import tasks
from .ask_paypal import ask_paypal
from .job import Job

JOBS: tuple[Job, ...] = (
    Job(
        "drain-inbox",
        timedelta(seconds=2),
        tasks.drain_inbox,
        timedelta(minutes=5),
        "verify and apply PayPal messages that are due: new, retries, woken deferrals",
    ),
    Job(
        "flag-waiting",
        timedelta(minutes=15),
        tasks.flag_waiting,
        timedelta(minutes=5),
        "flag refunds and reversals whose payment has not arrived after DEFERRED_FLAG_AFTER_HOURS",
    ),
    Job(
        "expire-checkouts",
        timedelta(minutes=1),
        tasks.expire_checkouts,
        timedelta(minutes=5),
        "close checkout holds whose time ran out",
    ),
    Job(
        "send-mail",
        timedelta(seconds=30),
        tasks.send_mail,
        timedelta(minutes=10),
        "send the outbox over SMTP (retried with backoff)",
    ),
    Job(
        "access-notices",
        timedelta(hours=1),
        tasks.access_notices,
        timedelta(minutes=10),
        "mail members whose access is about to end, or has just ended",
    ),
    Job(
        "settle-lapsed",
        timedelta(minutes=1),
        tasks.settle_lapsed,
        timedelta(minutes=5),
        "recompute subscriptions whose access has lapsed since they were last computed",
    ),
    Job(
        "settle-refunds",
        timedelta(minutes=1),
        tasks.settle_refunds,
        timedelta(minutes=10),
        "send again refunds whose PayPal answer was never recorded (same request id: once)",
    ),
    Job(
        "ask-paypal",
        timedelta(minutes=15),
        ask_paypal,
        timedelta(minutes=10),
        "ask PayPal's API about REST checkouts and renewals we heard nothing of",
    ),
    Job(
        "reconcile",
        timedelta(days=1),
        tasks.reconcile,
        timedelta(hours=1),
        "compare payments and REST subscriptions with PayPal's reports; flag each difference",
    ),
    Job(
        "dashboard-snapshot",
        timedelta(minutes=5),
        tasks.dashboard_snapshot,
        timedelta(minutes=10),
        "count the admin dashboard's numbers (the page shows the latest count and its age)",
    ),
    Job(
        "exports",
        timedelta(seconds=5),
        tasks.exports,
        # Each export holds a lease of its own (EXPORT_LEASE_SECONDS, renewed as it writes):
        # this one only lets another scheduler take over soon after this one dies.
        timedelta(minutes=2),
        "write admin exports too large to stream to files; delete expired ones",
    ),
    Job(
        "forget-ended-sessions",
        timedelta(hours=1),
        tasks.forget_ended_sessions,
        timedelta(minutes=10),
        "delete logged-out sessions older than the session cookie's maximum age",
    ),
    Job(
        "compact-junk",
        timedelta(hours=1),
        compact_junk,
        timedelta(minutes=10),
        "keep messages PayPal did not verify in compact form after INBOX_JUNK_KEEP_HOURS",
    ),
)


def jobs(config: Mapping[str, Any]) -> tuple[Job, ...]:
    """JOBS with intervals overridden by JOB_INTERVALS ({"drain-inbox": 1, ...} seconds)."""
    overrides: Mapping[str, float] = config.get("JOB_INTERVALS") or {}
    unknown = set(overrides) - {j.id for j in JOBS}
    if unknown:
        raise ValueError(f"JOB_INTERVALS names unknown jobs: {', '.join(sorted(unknown))}")
    return tuple(
        replace(j, interval=timedelta(seconds=float(overrides[j.id]))) if j.id in overrides else j
        for j in JOBS
    )


def job_named(config: Mapping[str, Any], name: str) -> Job:
    for job in jobs(config):
        if job.id == name:
            return job
    raise LookupError(f"no job named {name!r}; jobs: {', '.join(j.id for j in JOBS)}")

"""The /metrics scrape: this process's (or every process's) counters from gateway/metrics.py,
and gauges read from the database at scrape time (gateway/ops/status.py).

Apart from the hooks so that the inbox worker, which calls the hooks, loads nothing of
the status queries or the job registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import Flask
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from ..metrics import PREFIX, multiprocess
from .status import Status

# --- the scrape ----------------------------------------------------------------------


class StatusCollector:
    """Gauges read from the database at scrape time (one snapshot per scrape); None when
    the database could not be read: the counters are still worth scraping then."""

    def __init__(self, status: Status | None) -> None:
        self.status = status

    def collect(self) -> Iterable[Metric]:
        s = self.status
        yield GaugeMetricFamily(
            f"{PREFIX}_database_up",
            "1 if the database answered this scrape's queries, else 0",
            value=0 if s is None else 1,
        )
        if s is None:
            return
        backlog = GaugeMetricFamily(
            f"{PREFIX}_inbox_backlog", "Open inbox messages, by status", labels=["status"]
        )
        backlog.add_metric(["pending"], s.inbox.pending)
        backlog.add_metric(["retry"], s.inbox.retry)
        backlog.add_metric(["deferred"], s.inbox.deferred)
        yield backlog
        yield GaugeMetricFamily(
            f"{PREFIX}_inbox_oldest_age_seconds",
            "Age of the oldest pending or retried message (0: none waiting)",
            value=_seconds(s, s.inbox.oldest_at),
        )
        invalid = GaugeMetricFamily(
            f"{PREFIX}_invalid_answers",
            "Messages PayPal disowned (INVALID, or a failed signature) in the last hour, and "
            "in the 24 hours before it",
            labels=["window"],
        )
        invalid.add_metric(["last_hour"], s.invalid.last_hour)
        invalid.add_metric(["day_before"], s.invalid.day_before)
        yield invalid
        heard = GaugeMetricFamily(
            f"{PREFIX}_last_message_age_seconds",
            "Time since the latest message of each channel arrived (absent: never; at least "
            "this when it is older than the newest 10,000 messages)",
            labels=["channel"],
        )
        for channel, h in s.heard.items():
            if h.at is not None:
                heard.add_metric([channel.value], _seconds(s, h.at))
        yield heard
        last_run = GaugeMetricFamily(
            f"{PREFIX}_job_last_run_age_seconds",
            "Time since each job's latest run started (absent: never ran)",
            labels=["job"],
        )
        overdue = GaugeMetricFamily(
            f"{PREFIX}_job_overdue",
            "1 if the job is overdue (never ran, last run failed, or late), else 0",
            labels=["job"],
        )
        for job in s.jobs:
            if job.started_at is not None:
                last_run.add_metric([job.id], _seconds(s, job.started_at))
            overdue.add_metric([job.id], 1 if job.overdue else 0)
        yield last_run
        yield overdue
        flags = GaugeMetricFamily(f"{PREFIX}_flags_open", "Open flags, by kind", labels=["kind"])
        for kind, count in s.flags.items():
            flags.add_metric([kind], count)
        yield flags
        junk = GaugeMetricFamily(
            f"{PREFIX}_junk_last_hour",
            "PayPal endpoints, last hour: POSTs refused (rate limits, too large) and messages "
            "PayPal did not verify (invalid)",
            labels=["kind"],
        )
        junk.add_metric(["refused"], s.junk.refused)
        junk.add_metric(["invalid"], s.junk.invalid)
        yield junk
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_unsent", "Mails in the outbox not sent yet", value=s.outbox.unsent
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_age_seconds",
            "Age of the oldest unsent mail (0: none)",
            value=_seconds(s, s.outbox.oldest_at),
        )


def _seconds(status: Status, at: datetime | None) -> float:
    age = status.age(at)
    return max(age.total_seconds(), 0.0) if age is not None else 0.0


def exposition(app: Flask, status: Status | None) -> bytes:
    """The Prometheus text for one scrape: this app's (or every process's) counters, and
    the database-derived gauges of `status`."""
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)
    elif "metrics" in app.extensions:
        registry.register(app.extensions["metrics"])
    registry.register(StatusCollector(status))
    return generate_latest(registry)

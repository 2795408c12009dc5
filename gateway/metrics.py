"""Prometheus metrics: hooks the code calls where things happen, and what /metrics shows.

Counters and histograms live in the process that counts (a web worker counts log-ins, an
inbox worker or scheduler counts messages, postbacks and job runs). Each app has its own
set, so tests never share state through a global registry. With PROMETHEUS_MULTIPROC_DIR
set (before the processes start, one empty directory per host, shared by the web
workers, schedulers and inbox workers), prometheus_client keeps every process's values in
files there and a scrape adds them all up; without it, a scrape sees only the process
that answers it. Backlogs, ages and overdue jobs are read from the database at scrape
time (gateway/ops/status.py), so they are right whichever process answers.

A hook never raises: counting must not break what is being counted.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from flask import current_app, has_app_context
from flask.sansio.app import App
from prometheus_client import Counter, Histogram
from prometheus_client.core import Metric

from .billing.rules.statuses import NotificationStatus

PREFIX = "tollgate"
#: Statuses that end a message's processing (retry and deferred come back later).
FINAL = {NotificationStatus.PROCESSED, NotificationStatus.INVALID, NotificationStatus.FLAGGED}


def multiprocess() -> bool:
    """prometheus_client picks its storage from this variable when it is first imported."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """One app's counters and histograms (registered in no global registry)."""

    def __init__(self) -> None:
        self.messages = Counter(
            f"{PREFIX}_messages",
            "Inbox messages handled, by channel and the status they were left in "
            "(processed, invalid, flagged; retry: an attempt that will be repeated)",
            ["channel", "status"],
            registry=None,
        )
        self.processing = Histogram(
            f"{PREFIX}_message_processing_seconds",
            "From a message's receipt to its final status (processed, invalid or flagged)",
            ["channel"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600, 24 * 3600),
            registry=None,
        )
        self.postback = Histogram(
            f"{PREFIX}_postback_seconds",
            "IPN postbacks to PayPal: time to an answer (or to giving up)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=None,
        )
        self.postback_errors = Counter(
            f"{PREFIX}_postback_errors",
            "IPN postbacks that got neither VERIFIED nor INVALID (timeout, connection, HTTP error)",
            registry=None,
        )
        self.job_runs = Counter(
            f"{PREFIX}_job_runs",
            "Scheduled job runs, by job and outcome",
            ["job", "outcome"],
            registry=None,
        )
        self.intake_refused = Counter(
            f"{PREFIX}_intake_refused",
            "POSTs to PayPal's endpoints refused before their body was stored, by channel and "
            "reason (source: the sender over its limit; everyone: all senders outside PayPal's "
            "ranges together; too_large)",
            ["channel", "reason"],
            registry=None,
        )
        self.logins = Counter(
            f"{PREFIX}_logins",
            "Log-in attempts with a checked password, by result (success, failure)",
            ["result"],
            registry=None,
        )

    def collect(self) -> Iterator[Metric]:
        for metric in (
            self.messages,
            self.processing,
            self.postback,
            self.postback_errors,
            self.job_runs,
            self.intake_refused,
            self.logins,
        ):
            yield from metric.collect()


_process_metrics: Metrics | None = None
_process_lock = threading.Lock()


def init_app(app: App) -> None:
    """Give the app its metrics: its own set, or in multiprocess mode the process's one
    (its values are files named by process id, so two sets in one process would clash)."""
    global _process_metrics
    if not multiprocess():
        app.extensions["metrics"] = Metrics()
        return
    with _process_lock:
        if _process_metrics is None:
            _process_metrics = Metrics()
        app.extensions["metrics"] = _process_metrics


def _current() -> Metrics | None:
    if not has_app_context():
        return None
    metrics: Metrics | None = current_app.extensions.get("metrics")
    return metrics


F = TypeVar("F", bound=Callable[..., None])


def _never_raises(hook: F) -> F:
    @functools.wraps(hook)
    def guarded(*args, **kwargs):
        try:
            hook(*args, **kwargs)
        except Exception:  # a full disk under PROMETHEUS_MULTIPROC_DIR, say
            if has_app_context():
                current_app.logger.exception("metrics hook %s failed", hook.__name__)

    return guarded  # type: ignore[return-value]


# --- hooks ---------------------------------------------------------------------------


@_never_raises
def message_finished(channel: str, status: str, seconds: float | None = None) -> None:
    """The worker left a message in `status`; `seconds` since it was received."""
    m = _current()
    if m is None:
        return
    m.messages.labels(channel=str(channel), status=str(status)).inc()
    if seconds is not None and status in FINAL:
        m.processing.labels(channel=str(channel)).observe(max(seconds, 0.0))


@_never_raises
def postback(seconds: float, ok: bool) -> None:
    """One IPN postback took `seconds`; `ok` if PayPal answered VERIFIED or INVALID."""
    m = _current()
    if m is None:
        return
    m.postback.observe(seconds)
    if not ok:
        m.postback_errors.inc()


V = TypeVar("V")


def timed_postback(verify: Callable[[V, bytes], str]) -> Callable[[V, bytes], str]:
    """Decorates a postback verifier's `verify`: its latency and non-answers are counted."""

    @functools.wraps(verify)
    def timed(self: V, raw: bytes) -> str:
        started = time.monotonic()
        answer = verify(self, raw)
        postback(time.monotonic() - started, answer in ("VERIFIED", "INVALID"))
        return answer

    return timed


@_never_raises
def job_run(job: str, outcome: str) -> None:
    """A scheduled job's run was recorded with `outcome`."""
    m = _current()
    if m is not None:
        m.job_runs.labels(job=job, outcome=str(outcome)).inc()


@_never_raises
def intake_refused(app: App, channel: str, reason: str) -> None:
    """A POST to a PayPal endpoint was refused (the fast intake has no app context: the
    app is passed)."""
    m: Metrics | None = app.extensions.get("metrics")
    if m is not None:
        m.intake_refused.labels(channel=str(channel), reason=reason).inc()


@_never_raises
def login(succeeded: bool) -> None:
    """A password was checked at log-in."""
    m = _current()
    if m is not None:
        m.logins.labels(result="success" if succeeded else "failure").inc()

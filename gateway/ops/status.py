"""What an operator needs at a glance: PayPal heard from, backlogs, jobs, flags, outbox.

One snapshot from a handful of small queries, each served by an index (the notifications'
`ix_notifications_due`, the flags' `ix_flags_open`, the outbox's `ix_outbox_due`, the job
runs' `ix_job_runs_job_started`), shared by the admin status page and the /metrics scrape.
When something is overdue, quiet or too old is decided by pure functions of the snapshot
and `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from models import Flag, JobRun, Notification, OutboxMail, db

from ..billing.rules.statuses import OPEN_NOTIFICATION, Channel, JobOutcome, NotificationStatus
from ..flood import junk as junk_at_door
from ..jobs.registry import JOBS, Job, jobs
from . import invalid_answers
from .invalid_answers import InvalidAnswers

#: The channels PayPal sends on by itself (api and csv are our own asking and uploads).
HEARD_CHANNELS = (Channel.IPN, Channel.WEBHOOK)
#: How many of the newest messages are searched for a channel's latest one, along the
#: primary key: no index orders a channel's messages by time, and a channel quiet for
#: long (a site that moved from IPN to webhooks) must not cost a scan of the whole inbox.
LOOKBACK = 10_000


@dataclass(frozen=True)
class Limits:
    """When to warn: GATEWAY_STATUS_* settings."""

    job_late_factor: float
    quiet: timedelta
    backlog: timedelta
    junk_per_hour: float = 100
    invalid_per_hour: float = 20

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(
            job_late_factor=float(config["STATUS_JOB_LATE_FACTOR"]),
            quiet=timedelta(hours=float(config["STATUS_QUIET_HOURS"])),
            backlog=timedelta(minutes=float(config["STATUS_BACKLOG_MINUTES"])),
            junk_per_hour=float(config["STATUS_JUNK_PER_HOUR"]),
            invalid_per_hour=float(config["STATUS_INVALID_PER_HOUR"]),
        )


@dataclass(frozen=True)
class Heard:
    """When a channel's latest message arrived (None: never)."""

    at: datetime | None
    #: None among the newest LOOKBACK messages: `at` is the oldest of those, so the
    #: channel's latest message is older still.
    before: bool = False


@dataclass(frozen=True)
class Inbox:
    """Open notifications: pending and retry are waiting for a worker; deferred ones wait
    (without a budget) for the payment they refer to, so their age is no alarm."""

    pending: int = 0
    retry: int = 0
    deferred: int = 0
    #: When the oldest pending or retried message was received.
    oldest_at: datetime | None = None

    @property
    def waiting(self) -> int:
        return self.pending + self.retry


@dataclass(frozen=True)
class JobState:
    """A job's latest run and whether it is overdue (`problem` says why)."""

    id: str
    interval: timedelta
    description: str
    started_at: datetime | None
    finished_at: datetime | None
    outcome: JobOutcome | None
    summary: str | None
    problem: str | None

    @property
    def overdue(self) -> bool:
        return self.problem is not None


@dataclass(frozen=True)
class Outbox:
    unsent: int
    oldest_at: datetime | None
    #: False without MAIL_SERVER: mails stay in the outbox by design.
    sending: bool
    #: Unsent mails whose last attempt failed (they are retried with backoff).
    failed: int = 0


@dataclass(frozen=True)
class Status:
    now: datetime
    heard: dict[Channel, Heard]
    inbox: Inbox
    jobs: tuple[JobState, ...]
    #: Open flags by kind.
    flags: dict[str, int]
    outbox: Outbox
    warnings: tuple[str, ...] = ()
    #: How many of the newest messages `heard` searched (see LOOKBACK).
    lookback: int = 0
    #: Refused POSTs and unverified messages over the last hour (gateway/flood/junk.py).
    junk: junk_at_door.Junk = junk_at_door.Junk()
    #: Messages PayPal disowned lately (ops/invalid_answers.py).
    invalid: InvalidAnswers = InvalidAnswers()

    @property
    def flags_open(self) -> int:
        return sum(self.flags.values())

    def age(self, at: datetime | None) -> timedelta | None:
        return None if at is None else self.now - at


def snapshot(now: datetime, config: Mapping[str, Any]) -> Status:
    """Read everything the status page and the metrics show, then judge it."""
    notes: list[str] = []
    try:
        defined = jobs(config)
    except ValueError as e:  # GATEWAY_JOB_INTERVALS names a job that does not exist
        defined, notes = JOBS, [f"Configuration: {e}."]
    limits = Limits.from_config(config)
    status = Status(
        now=now,
        heard=heard_from(HEARD_CHANNELS),
        inbox=inbox(),
        jobs=tuple(
            job_state(job, last_run(job.id), now, limits.job_late_factor) for job in defined
        ),
        flags=open_flags(),
        outbox=outbox(sending=bool(config.get("MAIL_SERVER"))),
        lookback=LOOKBACK,
        junk=junk_at_door.last_hour(now),
        invalid=invalid_answers.count(now),
    )
    return replace(status, warnings=tuple(notes + warnings(status, limits)))


# --- queries -------------------------------------------------------------------------


def heard_from(channels: tuple[Channel, ...]) -> dict[Channel, Heard]:
    """Each channel's latest message among the newest LOOKBACK (a primary-key range; a
    rare channel may be read through `ix_notifications_event` instead, which is cheaper)."""
    newest = db.session.scalar(select(func.max(Notification.id)))
    if newest is None:
        return {channel: Heard(None) for channel in channels}
    floor = newest - LOOKBACK
    heard = {}
    for channel in channels:
        at = db.session.scalar(
            select(Notification.received_at)
            .where(Notification.channel == channel, Notification.id > floor)
            .order_by(Notification.id.desc())
            .limit(1)
        )
        heard[channel] = Heard(at) if at is not None else _before(channel, floor)
    return heard


def _before(channel: Channel, floor: int) -> Heard:
    """Not among the newest messages: never (one step into the channel's index), or
    before the oldest message looked at (one step along the primary key)."""
    if floor <= 0 or not db.session.scalar(
        select(Notification.id).where(Notification.channel == channel).limit(1)
    ):
        return Heard(None)
    oldest = db.session.scalar(
        select(Notification.received_at)
        .where(Notification.id > floor)
        .order_by(Notification.id)
        .limit(1)
    )
    return Heard(oldest, before=True)


def inbox() -> Inbox:
    """Counts and the oldest waiting message, reading only open rows (`ix_notifications_due`)."""
    rows = db.session.execute(
        select(Notification.status, func.count(), func.min(Notification.received_at))
        .where(Notification.status.in_(OPEN_NOTIFICATION))
        .group_by(Notification.status)
    ).all()
    counts = {status: count for status, count, _ in rows}
    waiting = [
        oldest
        for status, _, oldest in rows
        if status in (NotificationStatus.PENDING, NotificationStatus.RETRY) and oldest is not None
    ]
    return Inbox(
        pending=counts.get(NotificationStatus.PENDING, 0),
        retry=counts.get(NotificationStatus.RETRY, 0),
        deferred=counts.get(NotificationStatus.DEFERRED, 0),
        oldest_at=min(waiting, default=None),
    )


def last_run(job_id: str) -> JobRun | None:
    """The job's newest run: one step down `ix_job_runs_job_started`."""
    return db.session.scalar(
        select(JobRun).where(JobRun.job == job_id).order_by(JobRun.started_at.desc()).limit(1)
    )


def open_flags() -> dict[str, int]:
    rows = db.session.execute(
        select(Flag.kind, func.count())
        .where(Flag.resolved_at.is_(None))
        .group_by(Flag.kind)
        .order_by(Flag.kind)
    ).all()
    return {kind: count for kind, count in rows}


def outbox(*, sending: bool) -> Outbox:
    failed = case((OutboxMail.last_error.is_not(None), 1), else_=0)
    unsent, oldest, failures = db.session.execute(
        select(func.count(), func.min(OutboxMail.created_at), func.sum(failed)).where(
            OutboxMail.sent_at.is_(None)
        )
    ).one()
    return Outbox(unsent=unsent, oldest_at=oldest, sending=sending, failed=failures or 0)


# --- rules (pure) --------------------------------------------------------------------


def job_state(job: Job, run: JobRun | None, now: datetime, late_factor: float) -> JobState:
    started = run.started_at if run else None
    finished = run.finished_at if run else None
    outcome = run.outcome if run else None
    return JobState(
        id=job.id,
        interval=job.interval,
        description=job.description,
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        summary=run.summary if run else None,
        problem=job_problem(job, started, finished, outcome, now, late_factor),
    )


def job_problem(
    job: Job,
    started_at: datetime | None,
    finished_at: datetime | None,
    outcome: JobOutcome | None,
    now: datetime,
    late_factor: float,
) -> str | None:
    """Why the job is overdue, or None: never ran, last run failed, running past its time
    limit, or no run for longer than `late_factor` intervals."""
    if started_at is None:
        return "has never run (is a scheduler running?)"
    if outcome is JobOutcome.FAILED:
        return "failed in its last run"
    if outcome is JobOutcome.RUNNING or finished_at is None:
        if now - started_at > job.timeout:
            return f"has been running for {age_text(now - started_at)}, past its time limit"
        return None
    if now - finished_at > late_factor * job.interval:
        return (
            f"has not run for {age_text(now - finished_at)} "
            f"(it runs every {age_text(job.interval)})"
        )
    return None


def warnings(status: Status, limits: Limits) -> list[str]:
    """What an operator should look at now, most urgent kinds first."""
    found = [f"Job {j.id} {j.problem}." for j in status.jobs if j.problem]
    heard = [(h.at, not h.before) for h in status.heard.values() if h.at is not None]
    if not heard:
        found.append("No PayPal message (IPN or webhook) has ever arrived.")
    else:
        latest, exact = max(heard)
        if status.now - latest > limits.quiet:
            found.append(
                "No PayPal message (IPN or webhook) has arrived for "
                f"{'' if exact else 'more than '}{age_text(status.now - latest)} "
                f"(warning after {age_text(limits.quiet)})."
            )
    oldest = status.inbox.oldest_at
    if oldest is not None and status.now - oldest > limits.backlog:
        found.append(
            f"{status.inbox.waiting} PayPal message(s) wait to be processed; the oldest "
            f"arrived {age_text(status.now - oldest)} ago (warning after "
            f"{age_text(limits.backlog)})."
        )
    junk = junk_at_door.warning(status.junk, limits.junk_per_hour)
    if junk:
        found.append(junk)
    disowned = invalid_answers.rise(status.invalid, limits.invalid_per_hour)
    if disowned:
        found.append(disowned)
    mail = status.outbox
    if mail.sending and mail.oldest_at is not None and status.now - mail.oldest_at > limits.backlog:
        found.append(
            f"{mail.unsent} mail(s) unsent; the oldest was queued "
            f"{age_text(status.now - mail.oldest_at)} ago."
        )
    return found


def to_look_at(status: Status) -> list[tuple[str, str]]:
    """Open flags and unsent mails, each with the admin page that lists them: not alarms
    (they need no operator), but work for an admin, so the page never says "nothing"."""
    found = []
    if status.flags_open:
        kinds = ", ".join(f"{n} {kind}" for kind, n in status.flags.items())
        found.append((f"{status.flags_open} open flag(s) ({kinds}).", "admin.flags.index"))
    mail = status.outbox
    if mail.unsent:
        failed = f", {mail.failed} of them failed" if mail.failed else ""
        why = "" if mail.sending else " (no SMTP server is configured)"
        found.append((f"{mail.unsent} mail(s) unsent{failed}{why}.", "admin.outbox.index"))
    return found


def age_text(delta: timedelta | None) -> str:
    """A duration in words a person reads at a glance: 40 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if delta is None:
        return "—"
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"

"""Admin dashboard: five charts drawn on the server as inline SVG (no script, nothing from
a CDN), each with its numbers as a table and as a CSV download.

`/admin/` renders `page()` (see the home view in gateway/admin/routes.py); the numbers of
each chart download from `/admin/dashboard/<chart>.csv`, with the same `weeks` / `months`.

Counting the charts reads every subscription and payment (seconds at a million rows), so
a scheduled job (`dashboard-snapshot`, every 5 minutes) counts them over the widest window
and stores the result; the page and the CSVs show a slice of the latest count and say how
old it is (with a warning once it is older than the job should allow), and an admin can
ask for a count now. With little data (under DASHBOARD_LIVE_ROWS rows), or before any
count exists, the numbers are counted in the request instead, by the same functions. Open
flags and why members cancel are always counted live (index reads: the unresolved flags,
the period's cancellations that gave a reason).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from models import db

from ..clock import now, utc_text
from ..dashboard import snapshots
from ..dashboard.buckets import last_months, last_weeks, midnight
from ..dashboard.charts import Series, bar_chart, line_chart
from ..dashboard.series import open_flags
from ..dashboard.snapshots import MAX_MONTHS, MAX_WEEKS, Snapshot
from ..jobs import lease, runner
from ..jobs.registry import job_named
from ..paging import BadFilter
from ..subscriptions import cancel_reasons
from ..subscriptions.cancel_reasons import REASONS
from .exports import csv_response

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Window:
    """How far back the charts look."""

    weeks: int = 26
    months: int = 12

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Window:
        return cls(
            _whole(args, "weeks", cls.weeks, MAX_WEEKS),
            _whole(args, "months", cls.months, MAX_MONTHS),
        )

    def args(self) -> dict[str, int]:
        """Query-string arguments for links: only what differs from the defaults."""
        default = Window()
        return {
            k: v
            for k, v in (("weeks", self.weeks), ("months", self.months))
            if v != getattr(default, k)
        }


def _whole(args: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise BadFilter(f"{name} must be a whole number from 1 to {most}.")
    return int(raw)


@dataclass(frozen=True)
class Chart:
    """One dashboard section: its drawings (caption, SVG), and the numbers they show as rows
    (oldest first, as in the CSV; the page's table shows the latest first)."""

    key: str
    title: str
    note: str
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]
    figures: list[tuple[str, Markup]]
    latest_first: bool = True

    @property
    def csv_header(self) -> tuple[str, ...]:
        return tuple(h.lower().replace(" ", "_") for h in self.header)

    @property
    def table_rows(self) -> list[tuple[object, ...]]:
        return self.rows[::-1] if self.latest_first else self.rows

    @property
    def table_cells(self) -> list[list[tuple[str, bool]]]:
        """The table's rows as (text, is it a number) cells: formatted here, not in the
        template (a 104-week page has a few thousand cells)."""
        return [[(cell(v), numeric(v)) for v in row] for row in self.table_rows]


def _day(d: date) -> str:
    return f"{d.day} {MONTH_NAMES[d.month - 1]}"


def _month(d: date) -> str:
    return f"{MONTH_NAMES[d.month - 1]} {d.year}"


def active_chart(n: Snapshot, w: Window) -> Chart:
    points = n.active
    figure = line_chart(
        "chart-active",
        "Active members",
        [_day(p.week) for p in points],
        [
            Series("Members", [p.members for p in points]),
            Series("Subscriptions", [p.subscriptions for p in points]),
        ],
    )
    return Chart(
        "active",
        "Active members",
        "Members and subscriptions with access at the end of each week (this week: when counted).",
        ("Week", "Counted at", "Members", "Subscriptions"),
        [(p.week, p.at, p.members, p.subscriptions) for p in points],
        [("", figure)],
    )


def movements_chart(n: Snapshot, w: Window) -> Chart:
    weeks = n.movements
    figure = bar_chart(
        "chart-movements",
        "New, cancelled and lapsed subscriptions per week",
        [_day(m.week) for m in weeks],
        [
            Series("New", [m.new for m in weeks]),
            Series("Cancelled", [m.cancelled for m in weeks]),
            Series("Lapsed", [m.lapsed for m in weeks]),
        ],
    )
    return Chart(
        "movements",
        "New, cancelled and lapsed",
        "New: started that week. Cancelled: renewals stopped. Lapsed: access ran out.",
        ("Week", "New", "Cancelled", "Lapsed"),
        [(m.week, m.new, m.cancelled, m.lapsed) for m in weeks],
        [("", figure)],
    )


def revenue_chart(n: Snapshot, w: Window) -> Chart:
    rows = n.revenue
    months = last_months(n.at, n.months)
    figures = []
    for i, currency in enumerate(sorted({r.currency for r in rows})):
        net = {(r.month, r.plan): r.net for r in rows if r.currency == currency}
        plans = sorted({plan for _, plan in net})
        figures.append(
            (
                f"Net revenue per month, {currency}",
                bar_chart(
                    f"chart-revenue-{i}",
                    f"Net revenue per month, {currency}",
                    [_month(m) for m in months],
                    [Series(p, [net.get((m, p), Decimal(0)) for m in months]) for p in plans],
                    decimals=2,
                ),
            )
        )
    return Chart(
        "revenue",
        "Revenue per month",
        "Payments received by month of payment, per plan; one chart per currency (never "
        "added together). Refunded: refunds and chargebacks of those payments.",
        ("Month", "Plan", "Currency", "Payments", "Gross", "Refunded", "Net"),
        [(r.month, r.plan, r.currency, r.payments, r.gross, r.refunded, r.net) for r in rows],
        figures or [("", bar_chart("chart-revenue", "Net revenue per month", [], []))],
    )


def renewals_chart(n: Snapshot, w: Window) -> Chart:
    grace = int(current_app.config["GRACE_DAYS"])
    weeks = n.renewals
    figure = bar_chart(
        "chart-renewals",
        "Failed renewals and recoveries per week",
        [_day(r.week) for r in weeks],
        [
            Series("Failed", [r.failed for r in weeks]),
            Series("Recovered", [r.recovered for r in weeks]),
        ],
    )
    return Chart(
        "renewals",
        "Failed renewals and recoveries",
        f"Subscriptions whose renewal failed that week; recovered: paid within {grace} "
        "days (the grace period) of the failure.",
        ("Week", "Failed", "Recovered"),
        [(r.week, r.failed, r.recovered) for r in weeks],
        [("", figure)],
    )


def flags_chart(n: Snapshot, w: Window) -> Chart:
    flags = open_flags()  # always now: the unresolved flags, read by their index
    figure = bar_chart(
        "chart-flags",
        "Open flags by kind",
        [f.kind for f in flags],
        [Series("Open flags", [f.open for f in flags])] if flags else [],
    )
    return Chart(
        "flags",
        "Open flags",
        "Flags nobody has resolved yet, by kind (counted now).",
        ("Kind", "Open"),
        [(f.kind, f.open) for f in flags],
        [("", figure)],
        latest_first=False,
    )


CHARTS: dict[str, Callable[[Snapshot, Window], Chart]] = {
    "active": active_chart,
    "movements": movements_chart,
    "revenue": revenue_chart,
    "renewals": renewals_chart,
    "flags": flags_chart,
}


def _window() -> Window:
    try:
        return Window.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))


def cell(value: object) -> str:
    """A table cell as text: dates as ISO days, moments in UTC, numbers as they are."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def numeric(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


@dataclass(frozen=True)
class Numbers:
    """The numbers a page or CSV shows, and where they come from."""

    snapshot: Snapshot  # already cut to the window asked for
    live: bool  # counted in this request (else: the job's latest count)
    age: timedelta  # how long ago they were counted
    every: timedelta  # how often the job counts
    duration_ms: int | None = None  # what that count cost (stored counts only)

    @property
    def stale(self) -> bool:
        """Older than the job should ever let them be (it missed two runs, say)."""
        return not self.live and self.age > 3 * self.every


def numbers(w: Window, parts: Collection[str] = snapshots.PARTS) -> Numbers:
    """The latest stored count when there is much data, else a count made now (of `parts`
    only: a CSV needs one chart's numbers)."""
    at, config = now(), current_app.config
    grace, lapsing = int(config["GRACE_DAYS"]), int(config["LAPSING_DAYS"])
    every = job_named(config, snapshots.JOB_ID).interval
    if snapshots.size_estimate() >= int(config["DASHBOARD_LIVE_ROWS"]):
        stored = snapshots.latest(grace, lapsing)
        if stored is not None:
            age = max(at - stored.computed_at, timedelta(0))
            cut = stored.snapshot.window(w.weeks, w.months)
            return Numbers(cut, False, age, every, stored.duration_ms)
    live = snapshots.count(at, w.weeks, w.months, grace, lapsing, parts)
    return Numbers(live, True, timedelta(0), every)


def ago(age: timedelta) -> str:
    """An age in words: "under a minute", "7 minutes", "3 hours 5 minutes", "2 days"."""
    minutes = int(age.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        text = f"{hours} hour{'s' if hours != 1 else ''}"
        return f"{text} {rest} minute{'s' if rest != 1 else ''}" if rest else text
    return f"{hours // 24} days"


def page() -> str:
    """The dashboard page (the admin home)."""
    w = _window()
    n = numbers(w)
    since = midnight(last_weeks(n.snapshot.at, w.weeks)[0])  # the weekly charts' first week
    return render_template(
        "admin/dashboard.html",
        charts=[build(n.snapshot, w) for build in CHARTS.values()],
        reasons=[(REASONS[code], k) for code, k in cancel_reasons.counts(since).items()],
        reasons_since=since,
        counts=n.snapshot.counts,
        numbers=n,
        ago=ago,
        window=w,
        at=n.snapshot.at,
    )


def chart_csv(chart: str) -> Response:
    """The numbers of one chart, as its table on the dashboard shows them; the file is
    named after the moment they were counted (now, for the flags)."""
    w = _window()
    at = now()
    if chart == "flags":
        c = flags_chart(Snapshot(at, w.weeks, w.months, [], [], [], [], {}), w)
    else:
        n = numbers(w, (chart,))
        at, c = n.snapshot.at, CHARTS[chart](n.snapshot, w)
    return csv_response(f"{chart}-{at:%Y%m%d-%H%M}.csv", c.csv_header, c.rows)


#: The latest background count (tests wait for it).
background: threading.Thread | None = None


@bp.post("/refresh")
def refresh() -> BaseResponse:
    """Count the numbers now (the job's own run, under its lease: never twice at once)."""
    global background
    w = _window()
    config = current_app.config
    job = job_named(config, snapshots.JOB_ID)
    lease.ensure((job,), now())
    last = snapshots.latest(int(config["GRACE_DAYS"]), int(config["LAPSING_DAYS"]))
    inline = int(config["DASHBOARD_REFRESH_INLINE_MS"])
    if last is not None and last.duration_ms >= inline:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        background = threading.Thread(target=_count_in_background, args=(app,), daemon=True)
        background.start()
        flash(
            f"Counting in the background (the last count took {last.duration_ms / 1000:.0f} "
            "s); reload this page once it has had that long.",
            "success",
        )
    else:
        run = runner.tick(job, lease.owner_id(), force=True)
        if run is None:
            flash("A count is already running; its numbers show here when it ends.", "error")
        elif run.outcome.value != "ok":
            flash(f"Counting failed: {run.summary}", "error")
        else:
            flash(f"Counted again: {run.summary}.", "success")
    back: dict[str, Any] = w.args()
    return redirect(url_for("admin.index", **back), code=303)


def _count_in_background(app: Flask) -> None:
    with app.app_context():
        try:
            runner.tick(job_named(app.config, snapshots.JOB_ID), lease.owner_id(), force=True)
        except Exception:  # logged; the page still shows the previous count and its age
            app.logger.exception("dashboard count failed")
        finally:
            db.session.remove()


# One literal URL per chart (no catch-all), all building through one endpoint.
for _key in CHARTS:
    bp.add_url_rule(f"/{_key}.csv", "chart_csv", chart_csv, defaults={"chart": _key})

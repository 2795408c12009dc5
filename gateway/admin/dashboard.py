"""Admin dashboard: five charts drawn on the server as inline SVG (no script, nothing from
a CDN), each with its numbers as a table and as a CSV download.

`/admin/` renders `page()` (see the home view in gateway/admin/routes.py); the numbers of
each chart download from `/admin/dashboard/<chart>.csv`, with the same `weeks` / `months`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import Blueprint, Response, abort, current_app, render_template, request
from markupsafe import Markup

from ..charts import Series, bar_chart, line_chart
from ..clock import now
from . import dashboard_data as data
from .exports import csv_response
from .queries import BadFilter

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Window:
    """How far back the charts look."""

    weeks: int = 26
    months: int = 12

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Window:
        return cls(_whole(args, "weeks", cls.weeks, 104), _whole(args, "months", cls.months, 36))

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


def _day(d: date) -> str:
    return f"{d.day} {MONTH_NAMES[d.month - 1]}"


def _month(d: date) -> str:
    return f"{MONTH_NAMES[d.month - 1]} {d.year}"


def active_chart(at: datetime, w: Window) -> Chart:
    points = data.active_members(at, w.weeks)
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
        "Members and subscriptions with access at the end of each week (this week: now).",
        ("Week", "Counted at", "Members", "Subscriptions"),
        [(p.week, p.at, p.members, p.subscriptions) for p in points],
        [("", figure)],
    )


def movements_chart(at: datetime, w: Window) -> Chart:
    weeks = data.movements(at, w.weeks)
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


def revenue_chart(at: datetime, w: Window) -> Chart:
    rows = data.revenue(at, w.months)
    months = data.last_months(at, w.months)
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


def renewals_chart(at: datetime, w: Window) -> Chart:
    grace = int(current_app.config["GRACE_DAYS"])
    weeks = data.renewals(at, w.weeks, grace)
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


def flags_chart(at: datetime, w: Window) -> Chart:
    flags = data.open_flags()
    figure = bar_chart(
        "chart-flags",
        "Open flags by kind",
        [f.kind for f in flags],
        [Series("Open flags", [f.open for f in flags])] if flags else [],
    )
    return Chart(
        "flags",
        "Open flags",
        "Flags nobody has resolved yet, by kind.",
        ("Kind", "Open"),
        [(f.kind, f.open) for f in flags],
        [("", figure)],
        latest_first=False,
    )


CHARTS: dict[str, Callable[[datetime, Window], Chart]] = {
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
        return f"{value:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def numeric(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def page() -> str:
    """The dashboard page (the admin home)."""
    w, at = _window(), now()
    return render_template(
        "admin/dashboard.html",
        charts=[build(at, w) for build in CHARTS.values()],
        counts=data.view_counts(at, int(current_app.config["LAPSING_DAYS"])),
        window=w,
        at=at,
        cell=cell,
        numeric=numeric,
    )


def chart_csv(chart: str) -> Response:
    """The numbers of one chart, as its table on the dashboard shows them."""
    w, at = _window(), now()
    c = CHARTS[chart](at, w)
    return csv_response(f"{chart}-{at:%Y%m%d-%H%M}.csv", c.csv_header, c.rows)


# One literal URL per chart (no catch-all), all building through one endpoint.
for _key in CHARTS:
    bp.add_url_rule(f"/{_key}.csv", "chart_csv", chart_csv, defaults={"chart": _key})

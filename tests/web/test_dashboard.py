"""The admin dashboard and the CSV exports: exact numbers from a seeded history, the SVG
charts, the CSVs (formula-safe), and that members reach none of it.

The clock stands at Thursday 2026-01-15 12:00 UTC; weeks start on Monday (2026-01-12)."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.admin.exports import csv_safe
from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.billing.rules.statuses import PaymentStatus
from gateway.subscriptions import service
from models import Flag, Payment, Subscription


def noon(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def pay(txn: str, day: str, amount: str) -> Fact:
    return Fact(K.PAYMENT_COMPLETED, noon(day), key=txn, txn_id=txn, amount=Decimal(amount))


def fail(day: str) -> Fact:
    return Fact(K.PAYMENT_FAILED, noon(day), key=f"fail-{day}")


def refund(txn: str, refund_txn: str, day: str, amount: str, suffix: str = "") -> Fact:
    key = f"{refund_txn}:Refunded{suffix}"
    return Fact(K.REFUNDED, noon(day), key=key, txn_id=txn, amount=-Decimal(amount))


def seed(db, clock, make_user, make_plan, make_subscription) -> dict:
    """A history from October to now: renewals, a late and a timely recovery, a cancel, a
    lapse, a full and a (twice-reported) partial refund, a grant, an unclaimed payment."""
    premium = make_plan("premium-monthly", role="premium", price="9.00")
    pro = make_plan("pro-monthly", role="pro", price="29.00")
    pro_eur = make_plan("pro-eur", role="pro", price="29.00", currency="EUR")
    users = {n: make_user(f"{n}@example.com") for n in ("alice", "bob", "carol", "dave")}
    users |= {n: make_user(f"{n}@example.com") for n in ("erin", "frank", "gina")}

    def subscribe(name, plan, facts, currency="USD"):
        user = users.get(name)
        sub = make_subscription(user, plan, facts, f"I-{name.upper()}")
        for f in facts:
            if f.kind is K.PAYMENT_COMPLETED:
                db.session.add(
                    Payment(
                        subscription_id=sub.id,
                        txn_id=f.txn_id,
                        status=PaymentStatus.COMPLETED,
                        amount=f.amount,
                        currency=currency,
                        paid_at=f.at,
                        created_at=clock.now(),
                    )
                )
        db.session.flush()
        service.recompute(sub, clock.now())  # payment statuses and periods, as in production
        db.session.commit()
        return sub

    subs = {
        # Paid Oct 1; failed Nov 1, paid exactly 3 days later (recovered); lapses Dec 1.
        "gina": subscribe(
            "gina",
            premium,
            [pay("G1", "2025-10-01", "9.00"), fail("2025-11-01"), pay("G2", "2025-11-04", "9.00")],
        ),
        # EUR. Failed Dec 10, paid 4 days later (too late to count); failed Jan 10: grace
        # until Jan 13, then lapsed.
        "carol": subscribe(
            "carol",
            pro_eur,
            [
                pay("C1", "2025-11-10", "29.00"),
                fail("2025-12-10"),
                pay("C2", "2025-12-14", "29.00"),
                fail("2026-01-10"),
            ],
            "EUR",
        ),
        # Failed Jan 6, paid Jan 8 (recovered).
        "alice": subscribe(
            "alice",
            premium,
            [pay("A1", "2025-12-06", "9.00"), fail("2026-01-06"), pay("A2", "2026-01-08", "9.00")],
        ),
        "bob": subscribe(
            "bob",
            premium,
            [pay("B1", "2025-12-20", "9.00"), Fact(K.CANCELLED, noon("2026-01-02"), key="c")],
        ),
        "dave": subscribe(
            "dave",
            premium,
            [pay("D1", "2026-01-08", "9.00"), refund("D1", "R1", "2026-01-09", "9.00")],
        ),
        "unclaimed": subscribe("unclaimed", premium, [pay("U1", "2026-01-09", "9.00")]),
        # 10.00 back, reported by two channels: one refund.
        "erin": subscribe(
            "erin",
            pro,
            [
                pay("E1", "2026-01-14", "29.00"),
                refund("E1", "R2", "2026-01-14", "10.00"),
                refund("E1", "R2", "2026-01-14", "10.00", ":subscr_payment"),
            ],
        ),
        "frank": subscribe("frank", premium, [Fact(K.STARTED, noon("2026-01-14"), key="s")]),
    }
    # A second subscription of Alice's: a grant (a member counts once, subscriptions twice).
    subs["alice-grant"] = make_subscription(
        users["alice"],
        pro,
        [Fact(K.GRANTED, noon("2026-01-01"), key="g", until=noon("2026-03-01"))],
    )
    for kind, resolved in [
        ("amount", False),
        ("amount", False),
        ("unclaimed", False),
        ('<b>&"x"', False),
        ("=SUM(A1)", False),
        ("seats", True),
    ]:
        db.session.add(
            Flag(
                kind=kind,
                message="m",
                created_at=clock.now(),
                resolved_at=clock.now() if resolved else None,
            )
        )
    db.session.commit()
    return {"users": users, "subs": subs}


@pytest.fixture
def world(db, clock, make_user, make_plan, make_subscription):
    return seed(db, clock, make_user, make_plan, make_subscription)


def mondays(n: int = 26) -> list[date]:
    return [date(2026, 1, 12) - timedelta(weeks=i) for i in range(n - 1, -1, -1)]


def rows_of(client, chart: str, **query) -> list[list[str]]:
    r = client.get(f"/admin/dashboard/{chart}.csv", query_string=query)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(r.data.decode())))


def weekly(header: list[str], values: Mapping[str, Sequence[int]], zero: Sequence[int]) -> list:
    return [header] + [
        [m.isoformat(), *map(str, values.get(m.isoformat(), zero))] for m in mondays()
    ]


def section(page: str, key: str) -> str:
    match = re.search(rf'<section class="card dash-chart" id="{key}">(.*?)</section>', page, re.S)
    assert match, key
    return match.group(1)


def table(page: str, key: str) -> list[list[str]]:
    body = section(page, key)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c))
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr)
        ]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def count(svg_markup: str, cls: str) -> int:
    return len(re.findall(rf'<(?:rect|circle) class="{cls}"', svg_markup))


def test_active_members_per_week(client, admin, login_as, world):
    """Members (distinct) and subscriptions with access at the end of each week, now last."""
    login_as(admin)
    ends = {m.isoformat(): f"{m + timedelta(days=7)}T00:00:00+00:00" for m in mondays()}
    ends["2026-01-12"] = "2026-01-15T12:00:00+00:00"  # this week: now
    counts = {"2025-09-29": (1, 1), "2025-10-06": (1, 1), "2025-10-13": (1, 1)}
    counts |= {"2025-10-20": (1, 1), "2025-10-27": (1, 1), "2025-11-03": (1, 1)}
    counts |= {"2025-11-10": (2, 2), "2025-11-17": (2, 2), "2025-11-24": (2, 2)}
    counts |= {"2025-12-01": (2, 2), "2025-12-08": (2, 2), "2025-12-15": (3, 3)}
    counts |= {"2025-12-22": (3, 3), "2025-12-29": (3, 4), "2026-01-05": (3, 5)}
    counts |= {"2026-01-12": (3, 5)}
    expected = [["week", "counted_at", "members", "subscriptions"]] + [
        [m.isoformat(), ends[m.isoformat()], *map(str, counts.get(m.isoformat(), (0, 0)))]
        for m in mondays()
    ]
    assert rows_of(client, "active") == expected


def test_new_cancelled_lapsed_per_week(client, admin, login_as, world):
    """New (not pending), cancelled and lapsed subscriptions land in the right weeks."""
    login_as(admin)
    values = {
        "2025-09-29": [1, 0, 0],
        "2025-11-10": [1, 0, 0],
        "2025-12-01": [1, 0, 1],  # Alice starts; Gina's access ran out Dec 1
        "2025-12-15": [1, 0, 0],
        "2025-12-29": [1, 1, 0],  # Alice's grant; Bob cancels
        "2026-01-05": [2, 0, 0],  # Dave (refunded since) and the unclaimed payment
        "2026-01-12": [1, 0, 1],  # Erin (Frank is pending: not new); Carol's grace ended
    }
    expected = weekly(["week", "new", "cancelled", "lapsed"], values, [0, 0, 0])
    assert rows_of(client, "movements") == expected


def test_revenue_per_month_plan_and_currency(client, admin, login_as, world):
    """Gross, refunded and net per month, plan and currency; a twice-reported refund once."""
    login_as(admin)
    assert rows_of(client, "revenue") == [
        ["month", "plan", "currency", "payments", "gross", "refunded", "net"],
        ["2025-10-01", "premium-monthly", "USD", "1", "9.00", "0.00", "9.00"],
        ["2025-11-01", "pro-eur", "EUR", "1", "29.00", "0.00", "29.00"],
        ["2025-11-01", "premium-monthly", "USD", "1", "9.00", "0.00", "9.00"],
        ["2025-12-01", "pro-eur", "EUR", "1", "29.00", "0.00", "29.00"],
        ["2025-12-01", "premium-monthly", "USD", "2", "18.00", "0.00", "18.00"],
        ["2026-01-01", "premium-monthly", "USD", "3", "27.00", "9.00", "18.00"],
        ["2026-01-01", "pro-monthly", "USD", "1", "29.00", "10.00", "19.00"],
    ]
    assert rows_of(client, "revenue", months=2)[1][0] == "2025-12-01"


def test_failed_renewals_and_recoveries_per_week(client, admin, login_as, world):
    """A failure is recovered by a payment within the grace period (3 days, inclusive)."""
    login_as(admin)
    values = {"2025-10-27": [1, 1], "2025-12-08": [1, 0], "2026-01-05": [2, 1]}
    assert rows_of(client, "renewals") == weekly(["week", "failed", "recovered"], values, [0, 0])


def test_open_flags_by_kind(client, admin, login_as, world):
    """Open flags per kind, most first; resolved ones left out; a formula-like kind disarmed."""
    login_as(admin)
    assert rows_of(client, "flags") == [
        ["kind", "open"],
        ["amount", "2"],
        ['<b>&"x"', "1"],
        ["'=SUM(A1)", "1"],
        ["unclaimed", "1"],
    ]


def test_dashboard_page_draws_each_chart_beside_its_table(client, admin, login_as, world):
    """Is every chart an inline SVG with the right number of bars or points, next to the
    same numbers as a table and a link to their CSV?"""
    login_as(admin)
    r = client.get("/admin/")
    assert r.status_code == 200
    page = r.data.decode()
    assert "<h1>Dashboard</h1>" in page and "<script" not in page and "style=" not in page
    expected = {  # section: (figures, bars, points)
        "active": (1, 0, 52),
        "movements": (1, 78, 0),
        "revenue": (2, 24 + 12, 0),  # USD: 12 months x 2 plans; EUR: 12 x 1
        "renewals": (1, 52, 0),
        "flags": (1, 4, 0),
    }
    for key, (figures, n_bars, n_points) in expected.items():
        body = section(page, key)
        assert body.count("<svg ") == figures, key
        assert (count(body, "bar"), count(body, "point")) == (n_bars, n_points), key
        assert f'href="/admin/dashboard/{key}.csv"' in body
    # The tables show the latest first (the CSVs run oldest first).
    assert table(page, "active")[1] == ["2026-01-12", "2026-01-15 12:00 UTC", "3", "5"]
    assert table(page, "active")[-1] == ["2025-07-21", "2025-07-28 00:00 UTC", "0", "0"]
    assert table(page, "revenue")[1] == ["2026-01-01", "pro-monthly", "USD", "1"] + [
        "29.00",
        "10.00",
        "19.00",
    ]
    assert table(page, "flags")[2] == ['<b>&"x"', "1"]  # escaped in the page, shown as is
    assert "&lt;b&gt;&amp;&#34;x&#34;" in section(page, "flags")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", section(page, "revenue"))
    assert captions == ["Net revenue per month, EUR", "Net revenue per month, USD"]
    assert "</b>" not in section(page, "flags")


def test_dashboard_keeps_the_subscription_views_and_exports(client, admin, login_as, world):
    """Does the home still lead to the subscriptions table (with counts) and the exports?"""
    login_as(admin)
    page = client.get("/admin/").data.decode()
    for view, n in [("active", 5), ("lapsing", 1), ("grace", 0), ("expired", 3), ("all", 9)]:
        assert (
            f'href="/admin/subscriptions?view={view}">{view} <span class="count">{n}</span>' in page
        )
    for url in ("/admin/subscriptions.csv?view=all", "/admin/members.csv", "/admin/payments.csv"):
        assert f'href="{url}"' in page
    assert b"I-ALICE" in client.get("/admin/subscriptions", query_string={"view": "all"}).data
    # The table's old address with its arguments still answers with the table.
    assert b"I-ALICE" in client.get("/admin/", query_string={"view": "all"}).data


def test_window_is_adjustable_and_validated(client, admin, login_as, world):
    """Do weeks/months narrow the charts, and are bad values a clear 400?"""
    login_as(admin)
    assert [r[0] for r in rows_of(client, "movements", weeks=3)[1:]] == [
        "2025-12-29",
        "2026-01-05",
        "2026-01-12",
    ]
    page = client.get("/admin/", query_string={"weeks": 4}).data.decode()
    assert count(section(page, "movements"), "bar") == 12
    assert 'href="/admin/dashboard/movements.csv?weeks=4"' in page
    for bad in ({"weeks": "0"}, {"weeks": "105"}, {"weeks": "x"}, {"months": "-1"}):
        assert client.get("/admin/", query_string=bad).status_code == 400
        assert client.get("/admin/dashboard/active.csv", query_string=bad).status_code == 400
    assert client.get("/admin/dashboard/nope.csv").status_code == 404


def test_empty_dashboard(client, admin, login_as):
    """With no data yet, does every chart still draw (zeros, or "No data")?"""
    login_as(admin)
    page = client.get("/admin/").data.decode()
    assert section(page, "revenue").count(">No data</text>") == 1
    assert section(page, "flags").count(">No data</text>") == 1
    assert count(section(page, "movements"), "bar") == 78
    assert rows_of(client, "revenue") == [
        ["month", "plan", "currency", "payments", "gross", "refunded", "net"]
    ]


def test_members_csv(client, admin, login_as, world):
    """Every member with their subscriptions, access now and latest access date."""
    login_as(admin)
    r = client.get("/admin/members.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    u = world["users"]
    joined = "2026-01-15T12:00:00+00:00"

    def row(user, n, now, until):
        return [str(user.id), user.email, "no", joined, str(n), str(now), until]

    assert list(csv.reader(io.StringIO(r.data.decode()))) == [
        ["id", "email", "admin", "joined", "subscriptions", "with_access_now", "access_until"],
        [str(admin.id), "admin@example.com", "yes", joined, "0", "0", ""],
        row(u["alice"], 2, 2, "2026-03-01T12:00:00+00:00"),
        row(u["bob"], 1, 1, "2026-01-20T12:00:00+00:00"),
        row(u["carol"], 1, 0, "2026-01-13T12:00:00+00:00"),
        row(u["dave"], 1, 0, ""),
        row(u["erin"], 1, 1, "2026-02-14T12:00:00+00:00"),
        row(u["frank"], 1, 0, ""),
        row(u["gina"], 1, 0, "2025-12-01T12:00:00+00:00"),
    ]
    searched = client.get("/admin/members.csv", query_string={"q": "AL"}).data.decode()
    assert [row[1] for row in csv.reader(io.StringIO(searched))] == ["email", "alice@example.com"]


def test_payments_csv(client, admin, login_as, world):
    """Every payment, newest first, with the period it bought; the page's filters apply."""
    login_as(admin)
    rows = list(csv.reader(io.StringIO(client.get("/admin/payments.csv").data.decode())))
    assert rows[0] == [
        "id",
        "txn_id",
        "paid_at",
        "status",
        "amount",
        "currency",
        "fee",
        "period_start",
        "period_end",
        "subscription_id",
        "paypal_id",
        "member",
        "plan",
    ]
    # Newest first; D1 and A2 were paid at the same moment: the later row first.
    assert [r[1] for r in rows[1:]] == ["E1", "U1", "D1", "A2", "B1", "C2", "A1", "C1", "G2", "G1"]
    partial = client.get("/admin/payments.csv", query_string={"status": "Partially_Refunded"})
    erin = world["subs"]["erin"]
    assert list(csv.reader(io.StringIO(partial.data.decode())))[1:] == [
        [
            rows[1][0],
            "E1",
            "2026-01-14T12:00:00+00:00",
            "Partially_Refunded",
            "29.00",
            "USD",
            "",
            "2026-01-14T12:00:00+00:00",
            "2026-02-14T12:00:00+00:00",
            str(erin.id),
            "I-ERIN",
            "erin@example.com",
            "pro-monthly",
        ]
    ]
    unclaimed = client.get("/admin/payments.csv", query_string={"q": "I-UNCLAIMED"})
    assert list(csv.reader(io.StringIO(unclaimed.data.decode())))[1][11:] == [
        "",
        "premium-monthly",
    ]
    assert client.get("/admin/payments.csv", query_string={"status": "Bogus"}).status_code == 400


def test_payments_csv_streams_many_rows(client, admin, login_as, db, make_user, make_plan, clock):
    """Does the export carry every row of a larger table (fetched in batches)?"""
    sub = Subscription(
        user_id=make_user().id,
        plan_id=make_plan("bulk").id,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    db.session.add(sub)
    db.session.flush()
    db.session.add_all(
        Payment(
            subscription_id=sub.id,
            txn_id=f"BULK{i:04d}",
            status=PaymentStatus.COMPLETED,
            amount=Decimal("1.00"),
            currency="USD",
            paid_at=clock.now() - timedelta(minutes=i),
            created_at=clock.now(),
        )
        for i in range(1203)
    )
    db.session.commit()
    login_as(admin)
    lines = client.get("/admin/payments.csv").data.decode().strip().splitlines()
    assert len(lines) == 1204 and lines[1].split(",")[1] == "BULK0000"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_exports_disarm_formulas(client, admin, login_as, db, make_user, make_plan, clock, start):
    """Does text starting like a spreadsheet formula get a leading quote in every export?"""
    user = make_user(f"{start}cmd@example.com")
    plan = make_plan(f"{start}plan")
    sub = Subscription(
        user_id=user.id,
        plan_id=plan.id,
        paypal_id=f"{start}I-1",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    db.session.add(sub)
    db.session.flush()
    db.session.add(
        Payment(
            subscription_id=sub.id,
            txn_id=f"{start}TXN",
            status=PaymentStatus.COMPLETED,
            amount=Decimal("1.00"),
            currency="USD",
            paid_at=clock.now(),
            created_at=clock.now(),
        )
    )
    db.session.commit()
    login_as(admin)

    def cells(url, **query):
        body = client.get(url, query_string=query).data.decode()
        return [c for row in csv.reader(io.StringIO(body, newline="")) for c in row]

    members = cells("/admin/members.csv")
    assert f"'{start}cmd@example.com" in members and f"{start}cmd@example.com" not in members
    payments = cells("/admin/payments.csv")
    for text in (f"{start}TXN", f"{start}I-1", f"{start}cmd@example.com", f"{start}plan"):
        assert "'" + text in payments and text not in payments
    subs = cells("/admin/subscriptions.csv", view="all")
    for text in (f"{start}cmd@example.com", f"{start}plan", f"{start}I-1"):
        assert "'" + text in subs and text not in subs


def test_csv_safe_leaves_numbers_alone():
    """Is a negative amount written as a number, and only text disarmed?"""
    assert csv_safe(Decimal("-5.00")) == "-5.00" and csv_safe(-3) == "-3"
    assert csv_safe("-5") == "'-5" and csv_safe("=1+1") == "'=1+1" and csv_safe("a=b") == "a=b"
    assert csv_safe(None) == "" and csv_safe(True) == "yes"
    assert csv_safe(date(2026, 1, 5)) == "2026-01-05"


DASHBOARD_URLS = [
    "/admin/",
    "/admin/dashboard/active.csv",
    "/admin/dashboard/movements.csv",
    "/admin/dashboard/revenue.csv",
    "/admin/dashboard/renewals.csv",
    "/admin/dashboard/flags.csv",
    "/admin/members.csv",
    "/admin/payments.csv",
    "/admin/subscriptions",
]


@pytest.mark.parametrize("url", DASHBOARD_URLS)
def test_members_reach_none_of_it(client, make_user, login_as, url):
    """Is each dashboard page and export closed to strangers (login) and members (403)?"""
    r = client.get(url)
    assert r.status_code == 302 and "/auth/login" in r.headers["Location"]
    login_as(make_user())
    assert client.get(url).status_code == 403

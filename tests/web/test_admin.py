"""Admin pages: access, subscription tables (views, filters, search, sort, paging, CSV),
detail, manual grant / extend / revoke, members and the plan editor."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.roles.service import ensure_roles, restore, retire
from models import AuditEntry, Plan, Subscription

ADMIN_GETS = [
    "/admin/",
    "/admin/subscriptions.csv",
    "/admin/members",
    "/admin/plans",
    "/admin/plans/new",
    "/admin/subscriptions/1",
    "/admin/members/1",
    "/admin/plans/1/edit",
]
ADMIN_POSTS = [
    "/admin/subscriptions/1/extend",
    "/admin/subscriptions/1/revoke",
    "/admin/members/1",
    "/admin/plans/new",
    "/admin/plans/1/edit",
]


@pytest.mark.parametrize("url", ADMIN_GETS)
def test_admin_pages_answer_403_to_members(client, make_user, login_as, url):
    """Is every admin page closed to a member (403) and to strangers (login)?"""
    assert client.get(url).status_code == 302
    login_as(make_user())
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", ADMIN_POSTS)
def test_admin_actions_answer_403_to_members(client, make_user, login_as, url):
    """Are admin actions refused to members before any form is read?"""
    login_as(make_user())
    assert client.post(url, data={"reason": "x" * 10}).status_code == 403


@pytest.fixture
def world(make_user, make_plan, make_subscription, clock):
    """Subscriptions in every view: active, lapsing, grace, expired, pending, revoked."""
    now = clock.now()
    monthly = make_plan("premium-monthly", role="premium")
    pro = make_plan("pro-monthly", role="pro", price="29.00")

    def pay(txn, at):
        return Fact(K.PAYMENT_COMPLETED, at, key=txn, txn_id=txn, amount=Decimal("9.00"))

    subs = {
        "active": make_subscription(
            make_user("alice@example.com"), monthly, [pay("A1", now - timedelta(days=2))], "I-ALICE"
        ),
        "lapsing": make_subscription(
            make_user("bob@example.com"),
            monthly,
            [
                pay("B1", now - timedelta(days=27)),
                Fact(K.CANCELLED, now - timedelta(days=1), key="c"),
            ],
            "I-BOB",
        ),
        "grace": make_subscription(
            make_user("carol@example.com"),
            pro,
            [
                pay("C1", now - timedelta(days=32)),
                Fact(K.PAYMENT_FAILED, now - timedelta(days=1), key="f"),
            ],
            "I-CAROL",
        ),
        "expired": make_subscription(
            make_user("dave@example.com"), pro, [pay("D1", now - timedelta(days=90))], "I-DAVE"
        ),
        "pending": make_subscription(
            make_user("erin@example.com"), monthly, [Fact(K.STARTED, now, key="s")], "I-ERIN"
        ),
    }
    return subs


def ids_in(html: bytes) -> set[int]:
    import re

    return {int(m) for m in re.findall(rb'href="/admin/subscriptions/(\d+)"', html)}


@pytest.mark.parametrize(
    "view,expected",
    [
        ("active", {"active", "lapsing", "grace"}),
        ("lapsing", {"lapsing", "grace"}),
        ("grace", {"grace"}),
        ("expired", {"expired"}),
        ("all", {"active", "lapsing", "grace", "expired", "pending"}),
    ],
)
def test_views(client, admin, login_as, world, view, expected):
    """Does each admin view list exactly the subscriptions it names?"""
    login_as(admin)
    r = client.get("/admin/", query_string={"view": view})
    assert r.status_code == 200
    assert ids_in(r.data) == {world[k].id for k in expected}


def test_filters_and_search(client, admin, login_as, world):
    """Do plan and state filters and the e-mail / PayPal id search narrow the table?"""
    login_as(admin)
    get = lambda **q: ids_in(client.get("/admin/", query_string={"view": "all", **q}).data)  # noqa
    assert get(plan="pro-monthly") == {world["grace"].id, world["expired"].id}
    assert get(state="cancelled") == {world["lapsing"].id}
    assert get(q="CAROL@") == {world["grace"].id}
    assert get(q="I-DAVE") == {world["expired"].id}
    assert get(q="%") == set()  # LIKE wildcards are literal
    assert get(q="nobody") == set()


def test_sort_and_pagination(app, client, admin, login_as, world):
    """Does sorting order the rows, and do pages split them without loss or repeats?"""
    login_as(admin)
    page = client.get(
        "/admin/", query_string={"view": "all", "sort": "member", "dir": "desc"}
    ).data.decode()
    positions = [
        page.index(f"{name}@example.com") for name in ("erin", "dave", "carol", "bob", "alice")
    ]  # raises if one is missing
    assert positions == sorted(positions)

    app.config["ADMIN_PAGE_SIZE"] = 2
    seen = []
    for n in (1, 2, 3):  # small page numbers still work (keyset steps, never an OFFSET)
        r = client.get("/admin/", query_string={"view": "all", "sort": "id", "page": n})
        assert (b'rel="next"' in r.data) == (n < 3)
        seen += sorted(ids_in(r.data))
    assert sorted(seen) == sorted(s.id for s in world.values())
    assert len(seen) == len(set(seen)) == 5
    empty = client.get("/admin/", query_string={"view": "all", "page": 9})
    assert empty.status_code == 200 and b"No subscriptions match" in empty.data


@pytest.mark.parametrize(
    "query,message",
    [
        ({"view": "bogus"}, b"Unknown view"),
        ({"sort": "password_hash"}, b"Cannot sort by"),
        ({"dir": "sideways"}, b"dir must be asc or desc"),
        ({"page": "0"}, b"page must be a whole number"),
        ({"page": "abc"}, b"page must be a whole number"),
        ({"page": "11"}, b"follow the next, previous and last links"),
        ({"state": "weird"}, b"Unknown state"),
    ],
)
def test_bad_query_strings_are_400(client, admin, login_as, query, message):
    """Are bad query-string values a clear 400, never a 500?"""
    login_as(admin)
    for url in ("/admin/", "/admin/subscriptions.csv"):
        r = client.get(url, query_string=query)
        assert r.status_code == 400 and message in r.data


def test_csv_export_of_current_view(client, admin, login_as, world):
    """Does the CSV export hold exactly the rows of the filtered view, with a header?"""
    login_as(admin)
    r = client.get(
        "/admin/subscriptions.csv", query_string={"view": "active", "plan": "premium-monthly"}
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert {row["member"] for row in rows} == {"alice@example.com", "bob@example.com"}
    bob = next(row for row in rows if row["member"] == "bob@example.com")
    assert bob["state"] == "cancelled" and bob["paypal_id"] == "I-BOB"
    assert bob["access_until"] == world["lapsing"].access_until.isoformat()


def test_csv_neutralises_formulas(
    client, admin, login_as, make_user, make_plan, make_subscription, clock
):
    """Can a member e-mail starting with = not become a spreadsheet formula?"""
    plan = make_plan("p1")
    make_subscription(
        make_user("=cmd@example.com"),
        plan,
        [Fact(K.GRANTED, clock.now(), key="g", until=clock.now() + timedelta(1))],
    )
    login_as(admin)
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/subscriptions.csv").data.decode())))
    assert rows[0]["member"] == "'=cmd@example.com"


def test_csv_streams_many_rows(client, admin, login_as, make_user, make_plan, db, clock):
    """Does the export carry every row of a larger table?"""
    plan = make_plan("bulk")
    user = make_user()
    now = clock.now()
    db.session.add_all(
        [
            Subscription(
                user_id=user.id,
                plan_id=plan.id,
                state="active",
                access_until=now + timedelta(days=i + 1),
                created_at=now,
                updated_at=now,
            )
            for i in range(450)
        ]
    )
    db.session.commit()
    login_as(admin)
    body = client.get("/admin/subscriptions.csv").data.decode()
    assert len(body.strip().splitlines()) == 451


def test_detail_shows_payments_facts_and_audit(client, admin, login_as, world):
    """Does the detail page show the subscription's payments, facts and audit trail?"""
    login_as(admin)
    sub = world["grace"]
    r = client.get(f"/admin/subscriptions/{sub.id}")
    assert r.status_code == 200
    assert b"carol@example.com" in r.data and b"payment_failed" in r.data
    assert b"grace" in r.data


def test_unknown_ids_are_404(client, admin, login_as):
    """Are unknown subscription, member and plan ids a clear 404?"""
    login_as(admin)
    for url in ("/admin/subscriptions/999999", "/admin/members/999999", "/admin/plans/999999/edit"):
        r = client.get(url)
        assert r.status_code == 404 and b"No such" in r.data
    assert client.get("/admin/subscriptions/abc").status_code == 404


def test_grant_from_member_page(client, db, admin, login_as, make_user, make_plan, clock):
    """Can an admin grant a plan with a reason, audited, and is a missing reason refused?"""
    member = make_user("m@example.com")
    plan = make_plan("premium-monthly")
    login_as(admin)
    until = (clock.now() + timedelta(days=30)).date().isoformat()
    r = client.post(
        f"/admin/members/{member.id}", data={"plan": plan.id, "until": until, "reason": ""}
    )
    assert r.status_code == 400 and b"A reason is required" in r.data
    r = client.post(
        f"/admin/members/{member.id}",
        data={"plan": plan.id, "until": "2020-01-01", "reason": "comp"},
    )
    assert r.status_code == 400 and b"must end in the future" in r.data
    r = client.post(
        f"/admin/members/{member.id}",
        data={"plan": plan.id, "until": until, "reason": "conference speaker"},
    )
    assert r.status_code == 303
    sub = db.session.scalar(select(Subscription).where(Subscription.user_id == member.id))
    assert sub.access_until.date().isoformat() > until  # until the end of that day
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "grant"))
    assert entry.actor_id == admin.id and entry.reason == "conference speaker"


def test_extend_and_revoke_need_reasons(client, db, admin, login_as, world, clock):
    """Do extend and revoke refuse an empty reason and audit a real one?"""
    login_as(admin)
    sub = world["active"]
    url = f"/admin/subscriptions/{sub.id}"
    later = (clock.now() + timedelta(days=90)).date().isoformat()
    assert client.post(url + "/extend", data={"extend-until": later}).status_code == 400
    assert client.post(url + "/revoke", data={"revoke-reason": ""}).status_code == 400
    r = client.post(
        url + "/extend", data={"extend-until": later, "extend-reason": "service outage"}
    )
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).access_until.date().isoformat() > later
    earlier = (clock.now() + timedelta(days=3)).date().isoformat()
    r = client.post(
        url + "/extend",
        data={"extend-until": earlier, "extend-reason": "oops"},
        follow_redirects=True,
    )
    assert b"must be later than the current one" in r.data
    r = client.post(url + "/revoke", data={"revoke-reason": "chargeback", "confirm": "yes"})
    assert r.status_code == 303
    db.session.expire_all()
    fresh = db.session.get(Subscription, sub.id)
    assert fresh.state == "revoked" and fresh.access_until == clock.now()
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_id == sub.id).order_by(AuditEntry.id)
    ).all()
    assert actions == ["extend", "revoke"]


def test_members_list_search_and_paging(app, client, admin, login_as, make_user):
    """Does the members list search by e-mail and page?"""
    for i in range(5):
        make_user(f"user{i}@example.com")
    login_as(admin)
    r = client.get("/admin/members", query_string={"q": "USER3"})
    assert b"user3@example.com" in r.data and b"user2@example.com" not in r.data
    app.config["ADMIN_PAGE_SIZE"] = 2
    last = client.get("/admin/members", query_string={"page": 3}).data
    assert b"user4@example.com" in last and b'rel="next"' not in last
    assert client.get("/admin/members", query_string={"page": "x"}).status_code == 400


PLAN = {
    "code": "gold",
    "name": "Gold",
    "roles": "",  # the premium role's id, set by the fixture below
    "price": "12.50",
    "currency": "EUR",
    "period_count": "3",
    "period_unit": "M",
    "trial_count": "",
    "trial_unit": "",
    "paypal_plan_id": "",
    "seat_limit": "",
    "active": "y",
}


@pytest.fixture(autouse=True)
def roles_on_offer(request, monkeypatch):
    """The premium and pro roles exist (the plan editor offers them); PLAN grants premium."""
    if "db" not in request.fixturenames and "client" not in request.fixturenames:
        return None
    db, clock = request.getfixturevalue("db"), request.getfixturevalue("clock")
    premium, pro = ensure_roles(["premium", "pro"], clock.now())
    db.session.commit()
    monkeypatch.setitem(PLAN, "roles", str(premium.id))
    return premium, pro


def test_plan_editor_creates_and_edits(client, db, admin, login_as):
    """Can an admin create and edit a plan, audited?"""
    login_as(admin)
    r = client.post("/admin/plans/new", data=PLAN)
    assert r.status_code == 303
    plan = db.session.scalar(select(Plan).where(Plan.code == "gold"))
    assert plan.price == Decimal("12.50") and plan.period_label == "3 months"
    assert plan.paypal_plan_id is None and plan.seat_limit is None
    r = client.post(
        f"/admin/plans/{plan.id}/edit", data={**PLAN, "name": "Gold plus", "seat_limit": "10"}
    )
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Plan, plan.id).seat_limit == 10
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.subject_type == "plan").order_by(AuditEntry.id)
    ).all()
    assert [a.action for a in audit] == ["plan_create", "plan_update"]
    assert audit[1].details == {"name": "Gold plus", "seat_limit": "10"}
    assert b"Gold plus" in client.get("/admin/plans").data
    editor = client.get(f"/admin/plans/{plan.id}/edit").data
    assert b"new checkouts only" in editor  # a price change never reprices subscribers


@pytest.mark.parametrize(
    "change,message",
    [
        ({"code": "Has Spaces"}, b"Lower-case letters"),
        ({"price": "-1"}, b"Number must be at least 0"),
        ({"price": "abc"}, b"Not a valid decimal value"),
        ({"currency": "euro"}, b"Three capital letters"),
        ({"period_count": "0"}, b"Number must be between 1 and 365"),
        ({"period_unit": "Q"}, b"Not a valid choice"),
        ({"trial_count": "7"}, b"Give both a trial length and its unit"),
        ({"seat_limit": "0"}, b"Number must be at least 1"),
    ],
)
def test_plan_editor_rejects_bad_input(client, admin, login_as, change, message):
    """Is every bad plan field a 400 with a clear message?"""
    login_as(admin)
    r = client.post("/admin/plans/new", data={**PLAN, **change})
    assert r.status_code == 400 and message in r.data


def test_plan_code_must_be_unique(client, admin, login_as, make_plan):
    """Is a duplicate plan code refused with a message, not a 500?"""
    make_plan("gold")
    login_as(admin)
    r = client.post("/admin/plans/new", data=PLAN)
    assert r.status_code == 400 and b"already used" in r.data


def test_audit_log_is_append_only(db, admin):
    """Can an audit entry be changed or deleted through the ORM? (It must not.)"""
    from datetime import datetime

    from gateway.records.audit import audit
    from models.audit import AppendOnlyError

    audit(admin, "test", "user", admin.id, now=datetime.now(UTC), reason="r")
    db.session.commit()
    entry = db.session.scalar(select(AuditEntry))
    entry.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.scalar(select(AuditEntry)))
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()


def test_a_plan_grants_roles_that_exist_and_are_not_retired(
    client, db, admin, login_as, roles_on_offer, clock
):
    """The editor offers the roles not retired; a plan granting none, or one not offered,
    is refused; several may be granted at once."""
    premium, pro = roles_on_offer
    retire(pro, at=clock.now(), actor=None, reason="no longer sold")
    db.session.commit()
    login_as(admin)
    page = client.get("/admin/plans/new").data
    assert b"premium: Premium" in page and b"pro: Pro" not in page
    r = client.post("/admin/plans/new", data={**PLAN, "roles": str(pro.id)})
    assert r.status_code == 400 and b"not a valid choice" in r.data
    r = client.post("/admin/plans/new", data={**PLAN, "roles": []})
    assert r.status_code == 400 and b"at least one role" in r.data
    restore(pro, at=clock.now(), actor=None, reason="sold again")
    db.session.commit()
    r = client.post("/admin/plans/new", data={**PLAN, "roles": [str(premium.id), str(pro.id)]})
    assert r.status_code == 303
    plan = db.session.scalar(select(Plan).where(Plan.code == "gold"))
    assert plan.role_names == ["premium", "pro"]


def test_revoke_is_confirmed_on_its_own_page(client, db, admin, login_as, world, clock):
    """Does revoking show what it does first, and refuse a POST without the confirmation?"""
    login_as(admin)
    sub = world["active"]
    url = f"/admin/subscriptions/{sub.id}/revoke"
    detail = client.get(f"/admin/subscriptions/{sub.id}").data.decode()
    assert f'href="{url}">Revoke access…</a>' in detail and 'name="revoke-reason"' not in detail
    page = client.get(url).data.decode()
    until = sub.access_until.strftime("%Y-%m-%d %H:%M")
    assert f"Access now lasts until <strong>{until}" in page
    assert "ends " + clock.now().strftime("%Y-%m-%d %H:%M") in page
    assert 'name="confirm" value="yes"' in page
    r = client.post(url, data={"revoke-reason": "one click on an old page"})
    assert r.status_code == 400 and "Yes, revoke access now" in r.data.decode()
    assert "one click on an old page" in r.data.decode()  # the reason is kept
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).state == "active"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.subject_id == sub.id)) is None

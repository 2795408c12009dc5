"""How much the access gate and the IPN endpoint cost, against baselines in the same run.

- gate: a gated page (role check from the session cache) vs. an open page, same template
  size, same logged-in member: the ratio is the gate's overhead.
- inbox: POST /paypal/ipn (store raw bytes, commit, answer) vs. GET of a page that does
  one indexed read; the ratio shows the store-first design stays cheap.
- billing: compute() over 10 vs. 1,000 facts: the fold should stay near-linear.
Run: .venv/bin/python bench/gate_and_inbox.py  (SQLite in a temp folder; bounded, loopback only)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

N = int(os.environ.get("BENCH_N", "400"))


def per_call(fn, n: int = N) -> float:
    fn()  # warm
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    tmp = tempfile.mkdtemp()
    from flask_migrate import upgrade

    from gateway import create_app
    from gateway.billing import Fact, FactKind, PeriodUnit, Terms, compute
    from gateway.roles.service import ensure_roles
    from gateway.subscriptions import admin_actions
    from models import Plan, User, db

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret-key-0123456789",
            "WTF_CSRF_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
            "CONTENT_DIR": str(Path(__file__).resolve().parent.parent / "tests" / "site_content"),
        },
        instance_path=tmp,
    )
    with app.app_context():
        upgrade()
        now = datetime.now(UTC)
        plan = Plan(
            code="premium-monthly",
            name="P",
            roles=ensure_roles(["premium"], datetime.now(UTC)),
            price=Decimal("9"),
            currency="USD",
            period_count=1,
            period_unit="M",
            active=True,
            created_at=now,
        )
        user = User(email="bench@example.com", created_at=now)
        user.set_password("a long password", "pbkdf2:sha256:1000")
        db.session.add_all([plan, user])
        db.session.commit()
        admin_actions.grant(user, user, plan, now + timedelta(days=30), "bench", now)
        db.session.commit()

    client = app.test_client()
    client.post("/auth/login", data={"email": "bench@example.com", "password": "a long password"})
    open_page = per_call(lambda: client.get("/"))
    gated_page = per_call(lambda: client.get("/premium"))
    body = (
        b"txn_type=subscr_payment&subscr_id=I-BENCH&txn_id=T&mc_gross=9.00&"
        b"mc_currency=USD&payment_status=Completed&charset=windows-1252&first_name=Jos%E9"
    )
    ipn_post = per_call(
        lambda: client.post(
            "/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded"
        )
    )
    plans_page = per_call(lambda: client.get("/plans"))
    # The same POST with PayPal's fast intake off (gateway/fastpath/intake.py): through
    # Flask's routing, contexts and hooks to the view, which stores it the same way.
    through_flask = create_app(
        dict(app.config) | {"FASTPATH_OFF": ["intake"]}, instance_path=tmp
    ).test_client()
    ipn_flask = per_call(
        lambda: through_flask.post(
            "/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded"
        )
    )

    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def facts(n):
        return [
            Fact(
                FactKind.PAYMENT_COMPLETED,
                t0 + timedelta(days=30 * i),
                key=f"T{i}",
                txn_id=f"T{i}",
                amount=Decimal("9"),
            )
            for i in range(n)
        ]

    small, large = facts(10), facts(1000)
    terms = Terms(1, PeriodUnit.MONTH)
    c_small = per_call(lambda: compute(small, terms), 200)
    c_large = per_call(lambda: compute(large, terms), 20)

    print(
        f"gate:    open page {open_page * 1e3:.2f} ms, gated page {gated_page * 1e3:.2f} ms "
        f"-> ratio {gated_page / open_page:.2f}"
    )
    print(
        f"inbox:   POST /paypal/ipn {ipn_post * 1e3:.2f} ms vs GET /plans "
        f"{plans_page * 1e3:.2f} ms -> ratio {ipn_post / plans_page:.2f}"
    )
    print(
        f"intake:  POST /paypal/ipn {ipn_post * 1e3:.2f} ms with the fast intake, "
        f"{ipn_flask * 1e3:.2f} ms through Flask -> the fast intake saves "
        f"{(ipn_flask - ipn_post) * 1e6:.0f} us a POST ({1 - ipn_post / ipn_flask:.0%})"
    )
    print(
        f"billing: compute 10 facts {c_small * 1e6:.0f} us, 1000 facts {c_large * 1e6:.0f} us "
        f"-> ratio {c_large / c_small:.1f} for 100x the facts"
    )


if __name__ == "__main__":
    main()

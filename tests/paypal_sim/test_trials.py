"""The stand-in sells paid and second trials and fixed terms as PayPal does: the signup IPN
reports a1/p1/t1, a2/p2/t2 and recur_times; a paid trial is charged as it begins; charges
stop after the last cycle, then the end of term; REST plans keep priced TRIAL cycles."""

from __future__ import annotations

import html

from tests.paypal_sim.test_lifecycle import kinds, messages


def test_a_paid_trial_then_a_free_one_then_two_payments(paypal, listener):
    """11.00 at signup for a day, a free week, then 9.00 twice a month apart, then eot."""
    paypal.subscribe_standard(a1="11.00", p1="1", t1="D", a2="0.00", p2="1", t2="W", srt="2")
    first = messages(paypal, listener)
    assert kinds(first) == ["subscr_signup", "subscr_payment"]
    signup, trial = first
    assert (signup["mc_amount1"], signup["period1"]) == ("11.00", "1 D")
    assert (signup["mc_amount2"], signup["period2"]) == ("0.00", "1 W")
    assert (signup["mc_amount3"], signup["period3"], signup["recur_times"]) == ("9.00", "1 M", "2")
    assert trial["mc_gross"] == "11.00"
    paypal.control("clock/advance", days=7)  # inside the free week: nothing
    assert messages(paypal, listener) == []
    paypal.control("clock/advance", days=1)  # 23 Jan: the first regular payment
    regular = messages(paypal, listener)
    assert kinds(regular) == ["subscr_payment"] and regular[0]["mc_gross"] == "9.00"
    assert regular[0]["payment_date"].startswith("04:00:00 Jan 23, 2026")
    paypal.control("clock/advance", days=100)
    rest = messages(paypal, listener)
    assert kinds(rest) == ["subscr_payment", "subscr_eot"]
    assert rest[0]["payment_date"].startswith("04:00:00 Feb 23, 2026")


def button_problem(paypal, **fields: str) -> str:
    """PayPal's answer to a button with these fields: 400 and a sentence, no approve page."""
    base = {"cmd": "_xclick-subscriptions", "business": "merchant@example.com", "a3": "9.00"}
    page = paypal.http.post(
        paypal.url("/cgi-bin/webscr"), data={**base, "p3": "1", "t3": "M", **fields}, timeout=5
    )
    assert page.status_code == 400, page.text
    return html.unescape(page.text)


def test_buttons_paypal_refuses(paypal):
    """A second trial without a first, a bad trial unit, srt beyond 52."""
    assert "needs a first" in button_problem(paypal, a2="1.00", p2="1", t2="D")
    assert "t1 must be D, W, M or Y" in button_problem(paypal, a1="1.00", p1="1", t1="Q")
    assert "srt (recurring times)" in button_problem(paypal, src="1", srt="53")


def test_a_rest_plan_keeps_priced_trials_and_stops_after_total_cycles(paypal):
    cycles = [
        {
            "frequency": {"interval_unit": "DAY", "interval_count": 1},
            "tenure_type": "TRIAL",
            "sequence": 1,
            "total_cycles": 1,
            "pricing_scheme": {"fixed_price": {"value": "11.00", "currency_code": "USD"}},
        },
        {
            "frequency": {"interval_unit": "MONTH", "interval_count": 1},
            "tenure_type": "REGULAR",
            "sequence": 2,
            "total_cycles": 2,
            "pricing_scheme": {"fixed_price": {"value": "9.00", "currency_code": "USD"}},
        },
    ]
    r = paypal.api("POST", "/v1/billing/plans", json={"name": "Paid day", "billing_cycles": cycles})
    assert r.status_code == 201, r.text
    plan = paypal.api("GET", f"/v1/billing/plans/{r.json()['id']}").json()
    assert plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"]["value"] == "11.00"
    assert plan["billing_cycles"][1]["total_cycles"] == 2
    sub_id = paypal.control("rest/subscriptions", plan_id=plan["id"], custom_id="t")["id"]
    paypal.control("clock/advance", days=70)
    sub = paypal.api("GET", f"/v1/billing/subscriptions/{sub_id}").json()
    assert sub["status"] == "EXPIRED"
    executions = {c["tenure_type"]: c for c in sub["billing_info"]["cycle_executions"]}
    assert executions["REGULAR"]["cycles_completed"] == 2
    now = "2026-04-01T00:00:00Z"
    txns = paypal.api(
        "GET",
        f"/v1/billing/subscriptions/{sub_id}/transactions",
        params={"start_time": "2026-01-01T00:00:00Z", "end_time": now},
    ).json()["transactions"]
    amounts = sorted(t["amount_with_breakdown"]["gross_amount"]["value"] for t in txns)
    assert amounts == ["11.00", "9.00", "9.00"]

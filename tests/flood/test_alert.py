"""Junk arriving shows: /admin/status warns when the last hour's refused POSTs plus
messages PayPal did not verify pass STATUS_JUNK_PER_HOUR, and /metrics has both counts."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.flood.guard import guard
from gateway.ops.status import snapshot
from tests.flood.test_retention import message

from .conftest import FLOODER, SMALL, post

ALERT = SMALL | {"STATUS_JUNK_PER_HOUR": 6, "METRICS_TOKEN": "metrics-token-0123456789abcdef"}


def junk_lines(app, clock) -> list[str]:
    status = snapshot(clock.now(), app.config)
    return [w for w in status.warnings if w.startswith("Junk at the PayPal endpoints")]


@pytest.mark.parametrize("app", [ALERT], indirect=True)
def test_the_alert_fires_when_junk_rises_and_falls_silent_after(
    app, db, clock, client, seconds, login_as, admin
):
    for _ in range(7):
        post(client, FLOODER)  # 3 stored, 4 refused
    guard(app).refusals.flush()
    message(db, clock, b"forged=1", "invalid")
    message(db, clock, b"forged=2", "invalid")
    assert junk_lines(app, clock) == []  # 4 + 2 = 6: not above 6 an hour
    message(db, clock, b"forged=3", "invalid")
    (line,) = junk_lines(app, clock)
    assert "4 POST(s) refused" in line and "3 message(s) PayPal did not verify" in line
    assert f"most from {FLOODER} (4 refused)" in line
    login_as(admin)
    assert "Junk at the PayPal endpoints" in client.get("/admin/status").get_data(as_text=True)
    scraped = client.get(
        "/metrics", headers={"Authorization": "Bearer metrics-token-0123456789abcdef"}
    ).get_data(as_text=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    assert samples[("tollgate_junk_last_hour", (("kind", "refused"),))] == 4
    assert samples[("tollgate_junk_last_hour", (("kind", "invalid"),))] == 3
    assert (
        samples[("tollgate_intake_refused_total", (("channel", "ipn"), ("reason", "source")))] == 4
    )
    clock.advance(minutes=61)
    assert junk_lines(app, clock) == []

"""Pinned webhook certificates (GATEWAY_PAYPAL_WEBHOOK_CERT_DIR): verification with no
network, judged at the transmission time, and the command that pins them while online."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.billing.rules.statuses import Channel
from gateway.channels.seam import Outcome, Received, adapter_for
from gateway.paypal.pinned_certs import PinRefused, cert_id, pin_path, read_pinned, write_pinned
from gateway.paypal.webhook_certs import CertSource
from gateway.paypal.webhook_signature import verify_offline
from models import Notification, db

from .test_webhook_signature import (
    ALLOWED,
    SDK_LEAF,
    SDK_MID,
    SDK_ROOT,
    VECTORS,
    Network,
    _sdk_headers,
    _vectors,
    pem,
)

SDK_PEM = (VECTORS / "paypal-sandbox-CERT-360caa42-fca2a594-a5cafa77.pem").read_bytes()
SKEW = timedelta(hours=72)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (and is recorded)."""
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    return attempts


@pytest.fixture
def pinned(tmp_path: Path) -> Path:
    folder = tmp_path / "webhook-certs"
    folder.mkdir()
    (folder / "CERT-360caa42-fca2a594-a5cafa77.pem").write_bytes(SDK_PEM)
    return folder


def _sent(vector: dict[str, str]) -> datetime:
    return datetime.fromisoformat(vector["transmission_time"])


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["name"])
def test_sdk_vectors_verify_offline_from_pinned_certificates(vector, pinned, no_network):
    """Do PayPal's SDK vectors verify from the pinned folder, as live traffic, with no
    request to any host (the HTTP session would record one; the socket would refuse one)?"""
    net = Network()
    certs = CertSource(ALLOWED, trust=[SDK_MID], session=net.session(), pinned=pinned)
    body, sent, wid = vector["body"].encode(), _sdk_headers(vector), vector["webhook_id"]
    received = _sent(vector) + timedelta(seconds=3)
    assert verify_offline(body, sent, wid, received, certs, SKEW).outcome == "verified"
    changed = body.replace(b'"id":"WH-', b'"id":"XH-', 1)
    assert verify_offline(changed, sent, wid, received, certs, SKEW).outcome == "invalid"
    assert net.calls == [] and no_network == []


def test_expired_at_receipt_but_valid_at_transmission_is_accepted_on_re_verify(pinned):
    """Is a message sent just before its certificate expired, received (and re-verified)
    after the expiry, accepted: the certificate is judged when PayPal signed?"""
    vector = _vectors()[0]
    certs = CertSource(ALLOWED, trust=[SDK_MID], session=Network().session(), pinned=pinned)
    body, wid = vector["body"].encode(), vector["webhook_id"]
    # The signature covers the transmission time, so the genuine vector keeps its own; the
    # receipt is put past the certificate's end, as a late delivery or a re-check would be.
    received = SDK_LEAF.not_valid_after_utc + timedelta(days=400)
    sent = _sdk_headers(vector)
    assert verify_offline(body, sent, wid, received, certs).outcome == "verified"
    # Live, the same receipt time is refused: the transmission is years off it.
    live = verify_offline(body, sent, wid, received, certs, SKEW)
    assert live.outcome == "invalid" and "more than 3 days" in live.detail


def test_a_transmission_time_outside_the_skew_is_refused_for_live_traffic(pinned):
    """Is a transmission time further than the skew from the receipt refused, either way,
    and one inside it accepted?"""
    vector = _vectors()[1]
    certs = CertSource(ALLOWED, trust=[SDK_MID], session=Network().session(), pinned=pinned)
    body, sent, wid = vector["body"].encode(), _sdk_headers(vector), vector["webhook_id"]
    at = _sent(vector)
    for received, outcome in (
        (at + SKEW - timedelta(seconds=1), "verified"),
        (at - SKEW + timedelta(seconds=1), "verified"),
        (at + SKEW + timedelta(seconds=1), "invalid"),
        (at - SKEW - timedelta(seconds=1), "invalid"),
    ):
        assert verify_offline(body, sent, wid, received, certs, SKEW).outcome == outcome
    garbled = _sdk_headers(vector, **{"PAYPAL-TRANSMISSION-TIME": "yesterday"})
    check = verify_offline(body, garbled, wid, at, certs, SKEW)
    assert check.outcome == "invalid" and "not RFC 3339" in check.detail


def test_a_certificate_not_pinned_is_a_retry_and_nothing_is_fetched(tmp_path, no_network):
    """With a pinned folder that lacks the certificate: retried later (the operator pins
    it), never fetched?"""
    vector = _vectors()[0]
    net = Network({vector["cert_url"]: (200, SDK_PEM)})
    certs = CertSource(ALLOWED, trust=[SDK_MID], session=net.session(), pinned=tmp_path)
    body, sent, wid = vector["body"].encode(), _sdk_headers(vector), vector["webhook_id"]
    check = verify_offline(body, sent, wid, _sent(vector), certs, SKEW)
    assert check.outcome == "retry" and "is not pinned" in check.detail
    assert net.calls == []


@pytest.mark.parametrize(
    "name",
    ["../CERT-1", "..", "CERT-1/../../etc/passwd", ".hidden", "CERT%2e%2e", "a..b", ""],
)
def test_bad_certificate_ids_are_refused(tmp_path, name):
    """Is an id that is not a plain certificate id refused before any file is touched?"""
    with pytest.raises(PinRefused):
        pin_path(tmp_path, name)
    with pytest.raises(PinRefused):
        cert_id(f"https://api.paypal.com/v1/notifications/certs/{name}")


def test_a_pinned_link_out_of_the_folder_is_refused(tmp_path):
    """Is a pinned 'file' that is a link to a certificate outside the folder refused, and
    a message naming it invalid (not verified, not retried forever)?"""
    folder, outside = tmp_path / "pins", tmp_path / "elsewhere.pem"
    folder.mkdir()
    outside.write_bytes(SDK_PEM)
    (folder / "CERT-360caa42-fca2a594-a5cafa77.pem").symlink_to(outside)
    vector = _vectors()[0]
    with pytest.raises(PinRefused):
        read_pinned(folder, vector["cert_url"])
    certs = CertSource(ALLOWED, trust=[SDK_MID], session=Network().session(), pinned=folder)
    body, sent, wid = vector["body"].encode(), _sdk_headers(vector), vector["webhook_id"]
    check = verify_offline(body, sent, wid, _sent(vector), certs, SKEW)
    assert check.outcome == "invalid" and "leads out of" in check.detail


def test_a_pinned_file_that_is_no_certificate_is_refused(pinned):
    """Is a pinned file holding no PEM certificate refused (and nothing written for junk)?"""
    url = _vectors()[0]["cert_url"]
    (pinned / "CERT-360caa42-fca2a594-a5cafa77.pem").write_bytes(b"<html>proxy</html>")
    with pytest.raises(PinRefused):
        read_pinned(pinned, url)
    with pytest.raises(PinRefused):
        write_pinned(pinned, url.replace("a5cafa77", "00000000"), b"not a certificate")
    assert not (pinned / "CERT-360caa42-fca2a594-00000000.pem").exists()


# --- through the app: the setting, the channel and the command -----------------------------

SANDBOX_PINNED = {
    "PAYPAL_MODE": "sandbox",
    "PAYPAL_WEBHOOK_VERIFY": "auto",
    "PAYPAL_WEBHOOK_CERT_DIR": "webhook-certs",
}


def _received(vector: dict[str, str], at: datetime) -> Received:
    return Received(1, Channel.WEBHOOK, vector["body"].encode(), _sdk_headers(vector), at)


@pytest.mark.parametrize("app", [SANDBOX_PINNED], indirect=True)
def test_the_webhook_channel_verifies_from_the_setting_s_folder(app, tmp_path, no_network):
    """With GATEWAY_PAYPAL_WEBHOOK_CERT_DIR (under the instance folder), does "auto" check
    offline from the pinned files, live traffic inside the skew only, with no network?"""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pem(SDK_MID))
    (tmp_path / "webhook-certs").mkdir()
    (tmp_path / "webhook-certs" / "CERT-360caa42-fca2a594-a5cafa77.pem").write_bytes(SDK_PEM)
    vector = _vectors()[0]
    app.config.update(PAYPAL_WEBHOOK_ID=vector["webhook_id"], PAYPAL_WEBHOOK_CA_FILE=str(ca))
    channel = adapter_for(Channel.WEBHOOK)
    verdict = channel.verify(_received(vector, _sent(vector) + timedelta(seconds=2)))
    assert verdict.outcome is Outcome.VERIFIED
    late = channel.verify(_received(vector, _sent(vector) + timedelta(days=4)))
    assert late.outcome is Outcome.INVALID and "more than 3 days" in late.detail
    assert no_network == []


@pytest.mark.parametrize("app", [SANDBOX_PINNED], indirect=True)
def test_fetch_webhook_certs_pins_stored_and_named_urls(app, runner, tmp_path, monkeypatch):
    """Does `flask paypal fetch-webhook-certs` fetch the certificate URLs of stored webhooks
    and those named, keep each as CERT-....pem, skip ones already pinned, and refuse a URL
    off PayPal's hosts?"""
    vector = _vectors()[0]
    other = vector["cert_url"].replace("a5cafa77", "0000beef")
    net = Network({vector["cert_url"]: (200, SDK_PEM), other: (200, SDK_PEM)})
    monkeypatch.setattr("gateway.cli.webhook_certs.http_session", net.session)
    db.session.add(
        Notification(
            channel=Channel.WEBHOOK,
            received_at=_sent(vector),
            next_attempt_at=_sent(vector),
            body=vector["body"].encode(),
            headers={k.lower(): v for k, v in _sdk_headers(vector).items()},
        )
    )
    db.session.commit()
    result = runner.invoke(args=["paypal", "fetch-webhook-certs", other])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "webhook-certs"
    assert sorted(p.name for p in folder.iterdir()) == [
        "CERT-360caa42-fca2a594-0000beef.pem",
        "CERT-360caa42-fca2a594-a5cafa77.pem",
    ]
    assert (folder / "CERT-360caa42-fca2a594-a5cafa77.pem").read_bytes() == SDK_PEM
    assert "2 pinned" in result.output
    again = runner.invoke(args=["paypal", "fetch-webhook-certs"])
    assert again.exit_code == 0 and "1 already pinned" in again.output
    assert len(net.calls) == 2
    evil = runner.invoke(args=["paypal", "fetch-webhook-certs", "https://evil.example/CERT-1"])
    assert evil.exit_code == 1 and "not a PayPal certificate host" in evil.output
    assert len(net.calls) == 2


@pytest.mark.parametrize("app", [{"PAYPAL_MODE": "sandbox"}], indirect=True)
def test_fetch_webhook_certs_needs_the_setting(app, runner):
    """Without GATEWAY_PAYPAL_WEBHOOK_CERT_DIR, does the command say what to set?"""
    result = runner.invoke(args=["paypal", "fetch-webhook-certs"])
    assert result.exit_code == 2 and "PAYPAL_WEBHOOK_CERT_DIR" in result.output


def test_vectors_json_is_what_the_tests_read():
    """Are the vectors the published ones (two, both SHA256withRSA, one certificate URL)?"""
    vectors = json.loads((VECTORS / "vectors.json").read_text())
    assert {v["name"] for v in vectors} == {"node-sdk", "java-sdk"}
    assert {v["cert_url"] for v in vectors} == {
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
    }


def test_a_pinned_chain_reaches_the_root_and_a_leaf_alone_does_not(tmp_path):
    """Does a pinned file of leaf + intermediate verify against the root alone, while the
    leaf alone is refused (chain checks stay with pinned certificates)?"""
    vector = _vectors()[0]
    name = "CERT-360caa42-fca2a594-a5cafa77.pem"
    body, sent, wid = vector["body"].encode(), _sdk_headers(vector), vector["webhook_id"]
    for served, outcome in (([SDK_LEAF, SDK_MID], "verified"), ([SDK_LEAF], "invalid")):
        folder = tmp_path / str(len(served))
        folder.mkdir()
        (folder / name).write_bytes(pem(*served))
        certs = CertSource(ALLOWED, trust=[SDK_ROOT], session=Network().session(), pinned=folder)
        check = verify_offline(body, sent, wid, _sent(vector), certs, SKEW)
        assert check.outcome == outcome, check.detail

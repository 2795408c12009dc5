"""Webhook signatures: offline (certificate fetched only from PayPal) and by PayPal's API."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from gateway.paypal import webhook_certs
from gateway.paypal.webhook_certs import CertRejected, CertSource
from gateway.paypal.webhook_signature import SignatureCheck, signed_message, verify_offline
from gateway.paypal.webhook_verify_api import VERIFY_PATH, verify_by_api
from paypal_sim import webhooks as sim_webhooks

LIVE = "https://api.paypal.com/v1/notifications/certs/"
SANDBOX = "https://api.sandbox.paypal.com/v1/notifications/certs/"
ALLOWED = [
    LIVE,
    SANDBOX,
    "https://api-m.paypal.com/v1/notifications/certs/",
    "https://api-m.sandbox.paypal.com/v1/notifications/certs/",
]
CERT_URL = LIVE + "CERT-360caa42-fca2a594-test0001"
WEBHOOK_ID = "8PT597110X687430L"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
BODY = b'{"id":"WH-1","event_type":"PAYMENT.SALE.COMPLETED","resource":{"id":"5O1"}}'
VECTORS = Path(__file__).parent / "vectors"


# --- certificates, keys and a network that records instead of connecting ----------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


ROOT_KEY, LEAF_KEY, OTHER_KEY = _key(), _key(), _key()


def _cert(cn, key, issuer=None, issuer_key=None, *, ca=False, start=NOW, days=365):
    """A certificate for `key`; self-signed unless an issuer is given."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_key = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(days=1))
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    return builder.sign(signer_key, hashes.SHA256())


ROOT = _cert("Test Root CA", ROOT_KEY, ca=True, start=datetime(2020, 1, 1, tzinfo=UTC), days=10000)
LEAF = _cert("messageverificationcerts.paypal.com", LEAF_KEY, ROOT, ROOT_KEY)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class Network(requests.adapters.BaseAdapter):
    """A transport mounted on a real requests.Session: records every request, sends none."""

    pages: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    error: Exception | None = None
    delay: float = 0.0
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request, **kwargs):  # type: ignore[override]
        self.calls.append(request.url)
        time.sleep(self.delay)
        if self.error:
            raise self.error
        status, body = self.pages.get(request.url, (404, b"not found"))
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response.raw = io.BytesIO(body)
        if status in (301, 302):
            response.headers["Location"] = "https://evil.example/cert.pem"
        return response

    def close(self) -> None:
        pass

    def session(self) -> requests.Session:
        http = requests.Session()
        http.mount("http://", self)
        http.mount("https://", self)
        return http


def source(net: Network, trust=None, **kwargs) -> CertSource:
    return CertSource(ALLOWED, trust=trust or [ROOT], timeout=2, session=net.session(), **kwargs)


def headers(
    body=BODY,
    webhook_id=WEBHOOK_ID,
    url=CERT_URL,
    key=LEAF_KEY,
    when="2026-01-15T11:59:58Z",
    **extra,
) -> dict:
    tid = "b2384410-f8d2-11e4-8bf3-77339302725b"
    sig = key.sign(signed_message(tid, when, webhook_id, body), padding.PKCS1v15(), hashes.SHA256())
    return {
        "PAYPAL-TRANSMISSION-ID": tid,
        "PAYPAL-TRANSMISSION-TIME": when,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(sig).decode(),
        "PAYPAL-CERT-URL": url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    } | extra


@pytest.fixture
def net() -> Network:
    return Network({CERT_URL: (200, pem(LEAF))})


# --- the signed message ------------------------------------------------------------------


def test_signed_message_is_pipe_joined_with_unsigned_crc32():
    """Is the CRC the unsigned decimal of the exact bytes, as the stand-in signs it?"""
    body = b"\xff" * 7  # crc32 has its top bit set: a signed CRC would be negative
    crc = zlib.crc32(body) & 0xFFFFFFFF
    assert crc >= 2**31
    assert signed_message("t", "2026-01-15T12:00:00Z", "W", body) == (
        f"t|2026-01-15T12:00:00Z|W|{crc}".encode()
    )
    assert signed_message("t", "x", "W", body) == sim_webhooks.signed_message("t", "x", "W", body)


# --- offline verification ----------------------------------------------------------------


def test_a_good_signature_is_verified(net):
    """Does a body signed by a certificate chaining to the trust store verify?"""
    check = verify_offline(BODY, headers(), WEBHOOK_ID, NOW, source(net))
    assert check == SignatureCheck("verified", f"signature verified with {CERT_URL}")


def test_header_names_are_case_insensitive_and_algo_too(net):
    """Do lower-case header names and 'sha256withrsa' verify as well?"""
    lower = {k.lower(): v for k, v in headers().items()} | {"paypal-auth-algo": "sha256withrsa"}
    assert verify_offline(BODY, lower, WEBHOOK_ID, NOW, source(net)).outcome == "verified"


def test_an_intermediate_served_with_the_leaf_completes_the_chain():
    """Is a leaf issued by an intermediate in the PEM bundle traced to the root?"""
    mid_key, leaf_key = _key(), _key()
    mid = _cert("Test Intermediate CA", mid_key, ROOT, ROOT_KEY, ca=True)
    leaf = _cert("messageverificationcerts.paypal.com", leaf_key, mid, mid_key)
    net = Network({CERT_URL: (200, pem(leaf, mid))})
    check = verify_offline(BODY, headers(key=leaf_key), WEBHOOK_ID, NOW, source(net))
    assert check.outcome == "verified"


def test_one_changed_byte_of_the_body_is_invalid(net):
    """Is the CRC over the exact received bytes, so one flipped byte fails?"""
    tampered = BODY.replace(b"5O1", b"5O2")
    check = verify_offline(tampered, headers(), WEBHOOK_ID, NOW, source(net))
    assert check == SignatureCheck(
        "invalid", "signature does not match the body, transmission headers and webhook id"
    )


def test_a_signature_for_another_webhook_id_is_invalid(net):
    """Is a message PayPal signed for someone else's webhook refused?"""
    signed_for_other = headers(webhook_id="OTHERWEBHOOK0001")
    assert verify_offline(BODY, signed_for_other, WEBHOOK_ID, NOW, source(net)).outcome == "invalid"


def test_a_signature_over_another_message_is_invalid(net):
    """Is a valid signature lifted from another transmission refused?"""
    other = headers(body=b'{"id":"WH-2"}')
    assert verify_offline(BODY, other, WEBHOOK_ID, NOW, source(net)).outcome == "invalid"


def test_a_signature_by_another_key_is_invalid(net):
    """Is a signature made with a key other than the certificate's refused?"""
    check = verify_offline(BODY, headers(key=OTHER_KEY), WEBHOOK_ID, NOW, source(net))
    assert check.outcome == "invalid"


@pytest.mark.parametrize(
    "name",
    [
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-TRANSMISSION-SIG",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    ],
)
def test_a_missing_header_is_invalid_and_fetches_nothing(net, name):
    """Is a message without one of the five headers refused, naming it?"""
    partial = {k: v for k, v in headers().items() if k != name}
    check = verify_offline(BODY, partial, WEBHOOK_ID, NOW, source(net))
    assert check == SignatureCheck("invalid", f"missing header {name}")
    assert net.calls == []


@pytest.mark.parametrize("algo", ["SHA1withRSA", "SHA256withDSA", "none", "SHA256withRSA2"])
def test_another_auth_algo_is_invalid(net, algo):
    """Is anything but SHA256withRSA refused before any fetch?"""
    check = verify_offline(
        BODY, headers(**{"PAYPAL-AUTH-ALGO": algo}), WEBHOOK_ID, NOW, source(net)
    )
    assert check.outcome == "invalid" and "SHA256withRSA" in check.detail
    assert net.calls == []


def test_without_a_configured_webhook_id_nothing_is_verified(net):
    """Is an unset webhook id a retry that says so, never a verified message?"""
    check = verify_offline(BODY, headers(), "", NOW, source(net))
    assert check == SignatureCheck("retry", "webhook id is not configured (PAYPAL_WEBHOOK_ID)")


def test_a_signature_that_is_not_base64_is_invalid(net):
    """Is a garbled signature header invalid rather than an error?"""
    garbled = headers(**{"PAYPAL-TRANSMISSION-SIG": "not base64!"})
    check = verify_offline(BODY, garbled, WEBHOOK_ID, NOW, source(net))
    assert check == SignatureCheck("invalid", "signature header is not base64")


# --- the certificate URL: checked before any request -------------------------------------

BAD_URLS = [
    "https://evil.example/v1/notifications/certs/CERT-1",
    "http://api.paypal.com/v1/notifications/certs/CERT-1",
    "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1",
    "https://user:pw@api.paypal.com/v1/notifications/certs/CERT-1",
    "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
    "https://api.paypal.com./v1/notifications/certs/CERT-1",
    "https://API.PAYPAL.COM/v1/notifications/certs/CERT-1",
    "https://api.paypal.com:443/v1/notifications/certs/CERT-1",
    "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
    "https://api.paypal.com/v1/notifications/webhooks/CERT-1",
    "https://api.paypal.com/v1/notifications/certs/",
    "https://api.paypal.com/v1/notifications/certs/../../../evil",
    "https://api.paypal.com/v1/notifications/certs/..",
    "https://api.paypal.com/v1/notifications/certs/%2e%2e/%2e%2e/evil",
    "https://api.paypal.com/v1/notifications/certs/CERT-1/extra",
    "https://api.paypal.com/v1/notifications/certs/CERT-1?u=https://evil.example",
    "https://api.paypal.com/v1/notifications/certs/CERT-1?",
    "https://api.paypal.com/v1/notifications/certs/CERT-1#https://evil.example",
    "https://evil.example\\@api.paypal.com/v1/notifications/certs/CERT-1",
    "https://api.pay\tpal.com/v1/notifications/certs/CERT-1",
    "https://api.paypal.com/v1/notifications/certs/CERT-1\n",
    " https://api.paypal.com/v1/notifications/certs/CERT-1",
    "//api.paypal.com/v1/notifications/certs/CERT-1",
    "HTTPS://api.paypal.com/v1/notifications/certs/CERT-1",
    "https://api.paypal.com/v1/notifications/certs/CERT-\u0130",
    "file:///etc/passwd",
    "http://127.0.0.1:5001/v1/notifications/certs/CERT-1",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_certificate_url_off_paypal_is_rejected_and_never_requested(url):
    """Is a cert URL outside PayPal's certificate paths refused with no request made?"""
    net = Network({url: (200, pem(LEAF))})
    with pytest.raises(CertRejected, match="is not a PayPal certificate host: not fetched"):
        source(net).get(url, NOW)
    assert net.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/oauth2/token",
    ],
)
def test_a_message_naming_such_a_url_is_invalid_with_zero_requests(url):
    """Is the message itself invalid, saying why, and is nothing fetched?"""
    net = Network({url: (200, pem(LEAF))})
    check = verify_offline(BODY, headers(url=url), WEBHOOK_ID, NOW, source(net))
    assert check == SignatureCheck(
        "invalid", f"certificate URL {url} is not a PayPal certificate host: not fetched"
    )
    assert net.calls == []


@pytest.mark.parametrize("prefix", ALLOWED)
def test_every_paypal_certificate_host_is_allowed(prefix):
    """Are the live and sandbox hosts, with and without -m, all accepted?"""
    url = prefix + "CERT-360caa42-fca2a594-a5cafa77"
    net = Network({url: (200, pem(LEAF))})
    assert verify_offline(BODY, headers(url=url), WEBHOOK_ID, NOW, source(net)).outcome == (
        "verified"
    )
    assert net.calls == [url]


def test_a_redirect_is_not_followed():
    """Does a redirect on PayPal's host lead nowhere (no second request, invalid)?"""
    net = Network({CERT_URL: (302, b"")})
    check = verify_offline(BODY, headers(), WEBHOOK_ID, NOW, source(net))
    assert check == SignatureCheck("invalid", f"certificate {CERT_URL}: HTTP 302")
    assert net.calls == [CERT_URL]


@pytest.mark.parametrize(
    ("net", "outcome"),
    [
        (Network(error=requests.ConnectionError("refused")), "retry"),
        (Network(error=requests.ReadTimeout("slow")), "retry"),
        (Network({CERT_URL: (503, b"down")}), "retry"),
        (Network({CERT_URL: (429, b"slow down")}), "retry"),
        (Network({CERT_URL: (200, b"<html>maintenance</html>")}), "retry"),
        (Network({CERT_URL: (404, b"no such cert")}), "invalid"),
    ],
)
def test_an_unreachable_certificate_is_a_retry_and_a_missing_one_invalid(net, outcome):
    """Network trouble and 5xx: ask again later; PayPal says no such cert: invalid."""
    assert verify_offline(BODY, headers(), WEBHOOK_ID, NOW, source(net)).outcome == outcome


# --- the certificate: chain, name, validity at the time of transmission -------------------


def test_validity_is_judged_at_transmission_not_receipt_or_today():
    """Is a message checked at its transmission time: valid then, whenever it is re-checked?"""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    old_leaf = _cert("messageverificationcerts.paypal.com", LEAF_KEY, ROOT, ROOT_KEY, start=start)
    certs = source(Network({CERT_URL: (200, pem(old_leaf))}))
    sent = headers(when="2025-01-31T00:00:00Z")
    for received in (start + timedelta(days=30), start + timedelta(days=400)):
        assert verify_offline(BODY, sent, WEBHOOK_ID, received, certs).outcome == "verified"
    expired = verify_offline(BODY, headers(when="2026-02-05T00:00:00Z"), WEBHOOK_ID, NOW, certs)
    assert expired.outcome == "invalid"
    assert expired.detail.startswith(
        "certificate messageverificationcerts.paypal.com expired at 2026-01-01 00:00 UTC"
    )
    early = verify_offline(BODY, headers(when="2024-12-29T00:00:00Z"), WEBHOOK_ID, NOW, certs)
    assert early.outcome == "invalid" and "valid only from" in early.detail


def test_a_leaf_not_issued_by_the_trust_store_is_invalid():
    """Is a well-named certificate from an unknown CA refused?"""
    rogue_ca = _cert("Rogue CA", OTHER_KEY, ca=True)
    rogue_leaf = _cert("messageverificationcerts.paypal.com", LEAF_KEY, rogue_ca, OTHER_KEY)
    net = Network({CERT_URL: (200, pem(rogue_leaf, rogue_ca))})
    check = verify_offline(BODY, headers(), WEBHOOK_ID, NOW, source(net))
    assert check.outcome == "invalid"
    assert "is not issued by a trusted CA" in check.detail


def test_the_default_trust_store_is_certifi_s():
    """Without a configured trust store, is a chain to an unknown root refused (certifi's)?"""
    net = Network({CERT_URL: (200, pem(LEAF))})
    certs = CertSource(ALLOWED, trust=None, session=net.session())
    check = verify_offline(BODY, headers(), WEBHOOK_ID, NOW, certs)
    assert check.outcome == "invalid" and "is not issued by a trusted CA" in check.detail


def test_a_self_signed_paypal_name_on_a_paypal_url_is_invalid():
    """Is a forger's self-signed 'messageverificationcerts.paypal.com' refused?"""
    forged = _cert("messageverificationcerts.paypal.com", LEAF_KEY)
    net = Network({CERT_URL: (200, pem(forged))})
    assert verify_offline(BODY, headers(), WEBHOOK_ID, NOW, source(net)).outcome == "invalid"


@pytest.mark.parametrize("cn", ["evil.example", "paypal.com.evil.example", "notpaypal.com"])
def test_a_trusted_certificate_for_another_name_is_invalid(cn):
    """Is a chain-valid certificate whose CN is not *.paypal.com refused?"""
    other = _cert(cn, LEAF_KEY, ROOT, ROOT_KEY)
    net = Network({CERT_URL: (200, pem(other))})
    check = verify_offline(BODY, headers(), WEBHOOK_ID, NOW, source(net))
    assert check == SignatureCheck("invalid", f"certificate subject {cn} is not a paypal.com name")


def test_the_stand_in_s_self_signed_certificate_is_trusted_only_at_its_prefix():
    """Does the stand-in's own Signer verify at the configured stand-in prefix?"""
    signer, base = sim_webhooks.Signer(), "http://127.0.0.1:5001"
    prefix = f"{base}/v1/notifications/certs/"
    at = datetime.now(UTC)  # the stand-in's certificate starts a day before it was made
    sent = sim_webhooks.headers_for(signer, base, WEBHOOK_ID, BODY, at)
    net = Network({sent["PAYPAL-CERT-URL"]: (200, signer.cert_pem)})
    certs = CertSource([prefix], trust=[ROOT], trust_leaf_from=[prefix], session=net.session())
    assert verify_offline(BODY, sent, WEBHOOK_ID, at, certs).outcome == "verified"
    assert verify_offline(BODY + b" ", sent, WEBHOOK_ID, at, certs).outcome == "invalid"
    # Without trust_leaf_from the same certificate has no chain to the trust store.
    strict = CertSource([prefix], trust=[ROOT], session=net.session())
    assert verify_offline(BODY, sent, WEBHOOK_ID, at, strict).outcome == "invalid"


# --- the cache ---------------------------------------------------------------------------


def test_each_certificate_is_fetched_once(net):
    """Do two verifications with one cert URL make one request?"""
    certs = source(net)
    for _ in range(2):
        assert verify_offline(BODY, headers(), WEBHOOK_ID, NOW, certs).outcome == "verified"
    assert net.calls == [CERT_URL]


def test_a_failed_fetch_is_not_cached():
    """After a 503 is the certificate asked for again (and then kept)?"""
    net = Network({CERT_URL: (503, b"")})
    certs = source(net)
    assert verify_offline(BODY, headers(), WEBHOOK_ID, NOW, certs).outcome == "retry"
    net.pages[CERT_URL] = (200, pem(LEAF))
    for _ in range(2):
        assert verify_offline(BODY, headers(), WEBHOOK_ID, NOW, certs).outcome == "verified"
    assert net.calls == [CERT_URL, CERT_URL]


def test_the_cache_is_bounded():
    """Past CACHE_SIZE URLs, is the least recently used one dropped?"""
    urls = [f"{LIVE}CERT-{i}" for i in range(webhook_certs.CACHE_SIZE + 1)]
    net = Network({u: (200, pem(LEAF)) for u in urls})
    certs = source(net)
    for url in urls:
        certs.get(url, NOW)
    certs.get(urls[-1], NOW)
    certs.get(urls[0], NOW)
    assert len(net.calls) == len(urls) + 1


def test_concurrent_verifications_fetch_once():
    """Do eight threads verifying at once share one fetch?"""
    net = Network({CERT_URL: (200, pem(LEAF))}, delay=0.2)
    certs, results = source(net), []
    threads = [
        threading.Thread(
            target=lambda: results.append(verify_offline(BODY, headers(), WEBHOOK_ID, NOW, certs))
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.outcome for r in results] == ["verified"] * 8
    assert net.calls == [CERT_URL]


def test_prefixes_must_be_url_directories():
    """Is a malformed allowed prefix refused when the source is built?"""
    with pytest.raises(ValueError):
        CertSource(["https://api.paypal.com/v1/notifications/certs"])
    with pytest.raises(ValueError):
        CertSource([LIVE], trust=[])
    with pytest.raises(CertRejected):
        CertSource([LIVE]).check_url("https://evil.example/v1/notifications/certs/CERT-1")


# --- PayPal's published SDK vectors (tests/paypal/vectors/README.md) -----------------------


def _vectors() -> list[dict[str, str]]:
    return json.loads((VECTORS / "vectors.json").read_text())


def _load(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((VECTORS / name).read_bytes())


SDK_LEAF = _load("paypal-sandbox-CERT-360caa42-fca2a594-a5cafa77.pem")
SDK_MID = _load("digicert-sha2-ev-server-ca.pem")
SDK_ROOT = _load("digicert-high-assurance-ev-root-ca.pem")


def _sdk_headers(v: dict[str, str], **changes: str) -> dict[str, str]:
    return {
        "PAYPAL-TRANSMISSION-ID": v["transmission_id"],
        "PAYPAL-TRANSMISSION-TIME": v["transmission_time"],
        "PAYPAL-TRANSMISSION-SIG": v["transmission_sig"],
        "PAYPAL-CERT-URL": v["cert_url"],
        "PAYPAL-AUTH-ALGO": v["auth_algo"],
    } | changes


def _received(v: dict[str, str]) -> datetime:
    return datetime.fromisoformat(v["transmission_time"]) + timedelta(seconds=2)


def test_the_vector_certificates_chain_to_digicert():
    """Is the recorded PayPal leaf really signed by DigiCert's EV CA, and that by its root?"""
    SDK_LEAF.verify_directly_issued_by(SDK_MID)
    SDK_MID.verify_directly_issued_by(SDK_ROOT)
    cn = SDK_LEAF.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "messageverificationcerts.sandbox.paypal.com"


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["name"])
@pytest.mark.parametrize(
    ("served", "trust"),
    [
        (
            [SDK_LEAF],
            [SDK_MID],
        ),  # as recorded (leaf only), trusting the issuing CA like the Java SDK
        ([SDK_LEAF, SDK_MID], [SDK_ROOT]),  # the full chain to DigiCert's root
    ],
    ids=["leaf+trusted-intermediate", "chain-to-root"],
)
def test_paypal_sdk_vectors_verify_and_one_byte_breaks_them(vector, served, trust):
    """Do PayPal's own SDK test vectors verify here, and fail with any byte changed?"""
    body = vector["body"].encode()
    net = Network({vector["cert_url"]: (200, pem(*served))})
    certs = CertSource(ALLOWED, trust=trust, session=net.session())
    at, wid = _received(vector), vector["webhook_id"]
    assert verify_offline(body, _sdk_headers(vector), wid, at, certs).outcome == "verified"
    for i in (0, len(body) // 2, len(body) - 1):
        changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
        assert verify_offline(changed, _sdk_headers(vector), wid, at, certs).outcome == "invalid"
    assert verify_offline(body + b"\n", _sdk_headers(vector), wid, at, certs).outcome == "invalid"
    assert net.calls == [vector["cert_url"]]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("PAYPAL-TRANSMISSION-ID", "XXX84410-f8d2-11e4-8bf3-77339302725b"),
        ("PAYPAL-TRANSMISSION-TIME", "2015-05-12T18:14:15Z"),
        ("PAYPAL-TRANSMISSION-SIG", "XXX"),  # the first three characters replaced
        ("PAYPAL-AUTH-ALGO", "SHA1withRSA"),
    ],
)
def test_the_net_sdk_negative_variants_are_invalid(header, value):
    """Do PayPal-NET-SDK's tampered variants of the vector fail here too?"""
    vector = next(v for v in _vectors() if v["name"] == "java-sdk")
    if header == "PAYPAL-TRANSMISSION-SIG":
        value += vector["transmission_sig"][3:]
    net = Network({vector["cert_url"]: (200, pem(SDK_LEAF))})
    certs = CertSource(ALLOWED, trust=[SDK_MID], session=net.session())
    body, at, wid = vector["body"].encode(), _received(vector), vector["webhook_id"]
    changed = _sdk_headers(vector, **{header: value})
    assert verify_offline(body, changed, wid, at, certs).outcome == "invalid"
    assert verify_offline(body, _sdk_headers(vector), "NotToBeFound", at, certs).outcome == (
        "invalid"
    )
    other_id = body.replace(b'"id":"WH-2W7266712B616591M', b'"id":"XX-XXX266712B616591M')
    assert other_id != body
    assert verify_offline(other_id, _sdk_headers(vector), wid, at, certs).outcome == "invalid"


def test_a_vector_rechecked_today_verifies_but_not_as_live_traffic():
    """Is the genuine 2015 message still verified today (its certificate judged when it was
    sent), yet refused as live traffic received today (its transmission time is too old)?"""
    vector = _vectors()[0]
    net = Network({vector["cert_url"]: (200, pem(SDK_LEAF))})
    certs = CertSource(ALLOWED, trust=[SDK_MID], session=net.session())
    body, sent, wid = vector["body"].encode(), _sdk_headers(vector), vector["webhook_id"]
    assert SDK_LEAF.not_valid_after_utc < NOW
    assert verify_offline(body, sent, wid, NOW, certs).outcome == "verified"
    live = verify_offline(body, sent, wid, NOW, certs, max_skew=timedelta(hours=72))
    assert live.outcome == "invalid"
    assert "transmission time 2015-05-18 15:45:13 UTC is more than 3 days" in live.detail


# --- verification by PayPal's API --------------------------------------------------------


class Api:
    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer, self.error = answer, error
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        self.posts.append((path, body))
        if self.error:
            raise self.error
        return self.answer


def test_api_success_is_verified_and_posts_the_parsed_event():
    """Does SUCCESS verify, with every field PayPal requires and the event as JSON?"""
    api = Api({"verification_status": "SUCCESS"})
    sent = headers()
    check = verify_by_api(BODY, sent, WEBHOOK_ID, api.post_json)
    assert check == SignatureCheck("verified", "PayPal verify-webhook-signature: SUCCESS")
    assert api.posts == [
        (
            VERIFY_PATH,
            {
                "auth_algo": "SHA256withRSA",
                "cert_url": CERT_URL,
                "transmission_id": sent["PAYPAL-TRANSMISSION-ID"],
                "transmission_sig": sent["PAYPAL-TRANSMISSION-SIG"],
                "transmission_time": sent["PAYPAL-TRANSMISSION-TIME"],
                "webhook_id": WEBHOOK_ID,
                "webhook_event": json.loads(BODY),
            },
        )
    ]
    assert VERIFY_PATH == "/v1/notifications/verify-webhook-signature"


def test_api_failure_is_invalid():
    """Does FAILURE (still HTTP 200) make the message invalid?"""
    check = verify_by_api(
        BODY, headers(), WEBHOOK_ID, Api({"verification_status": "FAILURE"}).post_json
    )
    assert check == SignatureCheck("invalid", "PayPal verify-webhook-signature: FAILURE")


def test_api_errors_and_odd_answers_are_retries():
    """Does an exception from the client, or an unknown status, mean ask again later?"""
    down = verify_by_api(BODY, headers(), WEBHOOK_ID, Api(error=RuntimeError("HTTP 503")).post_json)
    assert down == SignatureCheck("retry", "verify-webhook-signature: HTTP 503")
    odd = verify_by_api(
        BODY, headers(), WEBHOOK_ID, Api({"verification_status": "MAYBE"}).post_json
    )
    assert odd.outcome == "retry"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"WH-1"', b"\xff\xfe\x00"])
def test_api_is_not_asked_about_a_body_that_is_not_a_json_object(body):
    """Is a body that is no JSON object invalid without a call to PayPal?"""
    api = Api({"verification_status": "SUCCESS"})
    assert verify_by_api(body, headers(body=body), WEBHOOK_ID, api.post_json).outcome == "invalid"
    assert api.posts == []


def test_api_needs_the_headers_and_a_webhook_id():
    """Missing headers: invalid; no webhook id configured: retry; neither calls PayPal."""
    api = Api({"verification_status": "SUCCESS"})
    partial = {k: v for k, v in headers().items() if k != "PAYPAL-CERT-URL"}
    assert verify_by_api(BODY, partial, WEBHOOK_ID, api.post_json) == SignatureCheck(
        "invalid", "missing header PAYPAL-CERT-URL"
    )
    assert verify_by_api(BODY, headers(), "", api.post_json).outcome == "retry"
    assert api.posts == []

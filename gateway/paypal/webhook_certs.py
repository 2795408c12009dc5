"""Webhook signing certificates: fetched only from PayPal's own certificate URLs (or read
from a folder of pinned ones: pinned_certs.py), cached by URL, and checked (chain, name,
validity) at the time the message was sent."""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import certifi
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from ..billing.rules.timetext import utc_text  # pure: this module needs no Flask
from .pinned_certs import CERT_ID, MAX_PEM_BYTES, NotPinned, PinRefused, read_pinned

USER_AGENT = "Tollgate-Webhook-Verifier/1.0"
CACHE_SIZE = 32
# PayPal's signing certificate is a public TLS certificate. The client verifier wants
# clientAuth and a SAN, which CAs are dropping from TLS certificates, so neither is
# required of the leaf (its name is checked by _check_name); the CAs get the usual rules.
CA_POLICY = verification.ExtensionPolicy.webpki_defaults_ca()
EE_POLICY = (
    verification.ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, None)
    .may_be_present(x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None)
)


class CertRejected(Exception):
    """Not PayPal's certificate (URL, chain, name or validity): the message is invalid."""


class CertUnavailable(Exception):
    """Could not get the certificate now (network, 5xx): ask again later."""


class CertSource:
    """Fetches and caches webhook certificates; never requests a URL outside `allowed`.
    With `pinned` (a folder), reads them from there and never fetches at all."""

    def __init__(
        self,
        allowed: Sequence[str],
        trust: list[x509.Certificate] | None = None,
        trust_leaf_from: Sequence[str] = (),
        timeout: float = 10.0,
        session: requests.Session | None = None,
        pinned: Path | None = None,
    ) -> None:
        self.allowed = [_prefix(p) for p in allowed]
        self.trust_leaf_from = [_prefix(p) for p in trust_leaf_from]
        if trust is not None and not trust:
            raise ValueError("an empty trust store trusts nothing; pass None for certifi's")
        self.timeout = timeout
        self.pinned = pinned
        self.http = session or requests.Session()
        self._trust = trust
        self._store: verification.Store | None = None
        self._cache: OrderedDict[str, list[x509.Certificate]] = OrderedDict()
        self._gates: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, url: str, at: datetime) -> x509.Certificate:
        """The leaf certificate at `url`, checked as of `at` (when the message was sent);
        raises CertRejected or CertUnavailable."""
        parts = self.check_url(url)
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        bundle = self._bundle(url)
        leaf = bundle[0]
        _check_name(leaf)
        _check_validity(leaf, at)
        if any(_under(parts, p) for p in self.trust_leaf_from):
            # The configured stand-in signs with its own self-signed certificate.
            if len(bundle) != 1 or leaf.issuer != leaf.subject:
                raise CertRejected(f"certificate at {url} is not a single self-signed one")
            try:
                leaf.verify_directly_issued_by(leaf)
            except (ValueError, TypeError, InvalidSignature) as e:
                raise CertRejected(f"self-signed certificate at {url} fails its own check: {e}")
            return leaf
        self._verify_chain(leaf, bundle[1:], at)
        return leaf

    def check_url(self, url: str) -> SplitResult:
        """The parsed URL if it is under an allowed prefix; CertRejected otherwise."""
        refused = CertRejected(
            f"certificate URL {url[:200]} is not a PayPal certificate host: not fetched"
        )
        # urlsplit silently drops tabs/newlines and strips spaces; refuse them instead.
        if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
            raise refused
        parts = urlsplit(url)
        if "\\" in url or parts.query or parts.fragment or "?" in url or "#" in url:
            raise refused
        if not any(_under(parts, p) and url.startswith(p.geturl()) for p in self.allowed):
            raise refused
        return parts

    def _bundle(self, url: str) -> list[x509.Certificate]:
        with self._lock:
            if url in self._cache:
                self._cache.move_to_end(url)
                return self._cache[url]
            gate = self._gates.setdefault(url, threading.Lock())
        # One fetch per URL at a time; other URLs are not held up by a slow one.
        with gate:
            try:
                with self._lock:
                    if url in self._cache:
                        return self._cache[url]
                bundle = self._fetch(url) if self.pinned is None else self._read_pinned(url)
                with self._lock:
                    self._cache[url] = bundle
                    while len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
                return bundle
            finally:
                with self._lock:
                    if self._gates.get(url) is gate:
                        del self._gates[url]

    def _read_pinned(self, url: str) -> list[x509.Certificate]:
        assert self.pinned is not None
        try:
            return read_pinned(self.pinned, url)
        except PinRefused as e:
            raise CertRejected(str(e)) from None
        except NotPinned as e:  # pinned later by the operator: the retry then verifies
            raise CertUnavailable(str(e)) from None

    def fetch_pem(self, url: str) -> bytes:
        """What PayPal serves at `url` (an allowed URL), checked to be its certificate by
        name, for pinning; raises CertRejected or CertUnavailable."""
        self.check_url(url)
        bundle = self._fetch(url)
        _check_name(bundle[0])
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in bundle)

    def _fetch(self, url: str) -> list[x509.Certificate]:
        try:
            # No redirects: a redirect could lead off the allowed hosts.
            with self.http.get(
                url,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                headers={"User-Agent": USER_AGENT, "Accept": "application/x-pem-file"},
            ) as response:
                status = response.status_code
                body = b""
                if status == 200:
                    for chunk in response.iter_content(8192):
                        body += chunk
                        if len(body) > MAX_PEM_BYTES:
                            raise CertRejected(
                                f"certificate at {url} is over {MAX_PEM_BYTES} bytes"
                            )
        except requests.Timeout:
            raise CertUnavailable(f"certificate {url}: no answer within {self.timeout:g} s")
        except requests.RequestException as e:
            raise CertUnavailable(f"certificate {url}: connection failed: {type(e).__name__}")
        if status >= 500 or status == 429:
            raise CertUnavailable(f"certificate {url}: HTTP {status}")
        if status != 200:
            raise CertRejected(f"certificate {url}: HTTP {status}")
        try:
            return x509.load_pem_x509_certificates(body)
        except ValueError:
            # PayPal's own host answered 200 with no certificate: a proxy page, not a forgery.
            raise CertUnavailable(f"certificate {url}: the answer is not a PEM certificate")

    def _verify_chain(
        self, leaf: x509.Certificate, intermediates: list[x509.Certificate], at: datetime
    ) -> None:
        verifier = (
            verification.PolicyBuilder()
            .store(self._trust_store())
            .time(at)
            .extension_policies(ca_policy=CA_POLICY, ee_policy=EE_POLICY)
            .build_client_verifier()
        )
        try:
            verifier.verify(leaf, intermediates)
        except verification.VerificationError as e:
            raise CertRejected(f"certificate {_cn(leaf)} is not issued by a trusted CA: {e}"[:300])

    def _trust_store(self) -> verification.Store:
        with self._lock:
            if self._store is None:
                roots = self._trust
                if roots is None:
                    with open(certifi.where(), "rb") as f, warnings.catch_warnings():
                        # One root in the bundle has a non-positive serial number.
                        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                        roots = x509.load_pem_x509_certificates(f.read())
                self._store = verification.Store(roots)
            return self._store


def _prefix(prefix: str) -> SplitResult:
    parts = urlsplit(prefix)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.endswith("/"):
        raise ValueError(f"not a certificate URL prefix (scheme://host/path/): {prefix!r}")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"not a certificate URL prefix: {prefix!r}")
    return parts._replace(netloc=parts.netloc.lower())


def _under(url: SplitResult, prefix: SplitResult) -> bool:
    """Same scheme, the very same host and port, one certificate id below the prefix path
    (CERT-360caa42-...: no "..", no "%xx", no further "/", nothing a server might decode
    into another path)."""
    if url.scheme != prefix.scheme or url.netloc != prefix.netloc:
        return False
    if not url.path.startswith(prefix.path):
        return False
    return CERT_ID.fullmatch(url.path[len(prefix.path) :]) is not None


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return ", ".join(str(n.value) for n in names) or cert.subject.rfc4514_string()


def _check_name(leaf: x509.Certificate) -> None:
    names = [str(n.value).lower() for n in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not names or not all(n.endswith(".paypal.com") for n in names):
        raise CertRejected(f"certificate subject {_cn(leaf)} is not a paypal.com name")


def _check_validity(leaf: x509.Certificate, at: datetime) -> None:
    if at > leaf.not_valid_after_utc:
        raise CertRejected(
            f"certificate {_cn(leaf)} expired at {utc_text(leaf.not_valid_after_utc)},"
            f" before the message was sent ({utc_text(at)})"
        )
    if at < leaf.not_valid_before_utc:
        raise CertRejected(
            f"certificate {_cn(leaf)} is valid only from {utc_text(leaf.not_valid_before_utc)},"
            f" after the message was sent ({utc_text(at)})"
        )

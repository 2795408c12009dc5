"""The webhook channel: verify PayPal's signature (here, or by PayPal's API), interpret
the event with the pure mapper."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app

from ..billing.formats.webhook_events import interpret_event
from ..billing.rules.interpretation import Interpretation
from ..paypal.api import api_client
from ..paypal.urls import cert_prefixes
from .seam import Received, Verdict

if TYPE_CHECKING:
    # cryptography's X.509 layer costs ~10 MB per process; it is imported on the first
    # webhook verified here, so processes that never verify one (the CLI, an import, a
    # web worker with inline processing off) never load it.
    from cryptography import x509

    from ..paypal.webhook_certs import CertSource
    from ..paypal.webhook_signature import SignatureCheck


def cert_source() -> CertSource:
    """The app's certificate cache (one per process; tests may put their own)."""
    from ..paypal.webhook_certs import CertSource

    app = current_app
    if "webhook_certs" not in app.extensions:
        allowed, self_signed = cert_prefixes(app.config)
        app.extensions["webhook_certs"] = CertSource(
            allowed,
            trust=_trust_roots(app.config["PAYPAL_WEBHOOK_CA_FILE"]),
            trust_leaf_from=self_signed,
            timeout=float(app.config["PAYPAL_TIMEOUT"]),
            pinned=pinned_folder(app.config, app.instance_path),
        )
    source: CertSource = app.extensions["webhook_certs"]
    return source


def pinned_folder(cfg: Mapping[str, Any], instance_path: str) -> Path | None:
    """PAYPAL_WEBHOOK_CERT_DIR (relative: under the instance folder); None when unset."""
    folder = str(cfg.get("PAYPAL_WEBHOOK_CERT_DIR") or "")
    return Path(instance_path, folder) if folder else None


def max_skew(cfg: Mapping[str, Any]) -> timedelta:
    return timedelta(hours=float(cfg["PAYPAL_WEBHOOK_MAX_SKEW_HOURS"]))


def _trust_roots(path: str) -> list[x509.Certificate] | None:
    if not path:
        return None  # certifi's bundle
    from cryptography import x509

    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


class WebhookChannel:
    """Verified once: the verdict is stored with the message, and the certificate is
    checked at the time PayPal sent the message (a transmission time near the receipt),
    so a re-check or a rebuild never depends on today's clock; with pinned certificates
    nor on PayPal being reachable."""

    def verify(self, received: Received) -> Verdict:
        from ..paypal.webhook_signature import verify_offline
        from ..paypal.webhook_verify_api import verify_by_api

        cfg = current_app.config
        webhook_id = str(cfg["PAYPAL_WEBHOOK_ID"])
        if verify_mode(cfg) == "api":
            check = verify_by_api(
                received.body, received.headers, webhook_id, api_client().post_json
            )
        else:
            check = verify_offline(
                received.body,
                received.headers,
                webhook_id,
                received.received_at,
                cert_source(),
                max_skew(cfg),
            )
        return _verdict(check)

    def interpret(self, received: Received) -> Interpretation:
        return interpret_event(received.body, received.received_at)


def verify_mode(cfg: Mapping[str, Any]) -> str:
    """The configured mode, with "auto" resolved (see config.PAYPAL_WEBHOOK_VERIFY)."""
    mode = str(cfg["PAYPAL_WEBHOOK_VERIFY"])
    if mode != "auto":
        return mode
    offline = cfg["PAYPAL_WEBHOOK_CA_FILE"] or cfg.get("PAYPAL_WEBHOOK_CERT_DIR")
    return "offline" if cfg["PAYPAL_MODE"] == "sim" or offline else "api"


def _verdict(check: SignatureCheck) -> Verdict:
    if check.outcome == "verified":
        return Verdict.verified()
    if check.outcome == "invalid":
        return Verdict.invalid(f"signature: {check.detail}", flag=True)
    return Verdict.retry(check.detail)

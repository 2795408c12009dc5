"""`flask --app app paypal fetch-webhook-certs [URL ...]`: pin PayPal's webhook certificates
while online (docs/paypal.md, "Pinned certificates"), so that verification later needs no
route to PayPal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from sqlalchemy import select

from models import Notification, db

from ..billing.rules.statuses import Channel
from ..channels.webhook import pinned_folder
from ..paypal.urls import cert_prefixes

if TYPE_CHECKING:
    # requests and cryptography's X.509 load only when the command runs (tests/test_imports.py).
    import requests

    from ..paypal.webhook_certs import CertSource

#: The header naming a webhook's certificate (webhook_signature.CERT_URL, not imported: see above).
CERT_URL = "PAYPAL-CERT-URL"


def http_session() -> requests.Session:
    """The session certificates are fetched with (tests put a recording one here)."""
    import requests

    return requests.Session()


def stored_cert_urls() -> Iterator[str]:
    """Every certificate URL named by a stored webhook, each once."""
    seen: set[str] = set()
    rows = db.session.execute(
        select(Notification.headers)
        .where(Notification.channel == Channel.WEBHOOK)
        .execution_options(yield_per=1000)
    )
    for (headers,) in rows:
        url = next((v for k, v in (headers or {}).items() if k.upper() == CERT_URL), "")
        url = str(url).strip()
        if url and url not in seen:
            seen.add(url)
            yield url


@click.command("fetch-webhook-certs")
@click.argument("urls", nargs=-1)
@click.option(
    "--stored/--no-stored",
    default=True,
    show_default=True,
    help="Also pin the certificate URLs named by stored webhooks.",
)
@click.option("--force", is_flag=True, help="Fetch again certificates already pinned.")
def fetch_webhook_certs_command(urls: tuple[str, ...], stored: bool, force: bool) -> None:
    """Fetch PayPal's webhook certificates into PAYPAL_WEBHOOK_CERT_DIR (CERT-....pem).

    Only URLs on the configured mode's PayPal certificate hosts are fetched; each answer
    must be a certificate for a paypal.com name. Exits 1 if any URL could not be pinned.
    """
    from ..paypal.webhook_certs import CertSource

    cfg = current_app.config
    folder = pinned_folder(cfg, current_app.instance_path)
    if folder is None:
        raise click.UsageError("set GATEWAY_PAYPAL_WEBHOOK_CERT_DIR to the folder to fill")
    allowed, _ = cert_prefixes(cfg)
    source = CertSource(allowed, timeout=float(cfg["PAYPAL_TIMEOUT"]), session=http_session())
    wanted = list(dict.fromkeys([*urls, *(stored_cert_urls() if stored else ())]))
    pinned, kept, failed = _pin_all(source, folder, wanted, force)
    click.echo(f"{pinned} pinned, {kept} already pinned, {failed} failed, in {folder}")
    if failed:
        raise SystemExit(1)


def _pin_all(
    source: CertSource, folder: Path, urls: Iterable[str], force: bool
) -> tuple[int, int, int]:
    from ..paypal.pinned_certs import PinRefused, cert_id, pin_path, write_pinned
    from ..paypal.webhook_certs import CertRejected, CertUnavailable

    pinned = kept = failed = 0
    for url in urls:
        try:
            source.check_url(url)
            path = pin_path(folder, cert_id(url))
            if path.exists() and not force:
                kept += 1
                continue
            write_pinned(folder, url, source.fetch_pem(url))
        except (CertRejected, CertUnavailable, PinRefused) as e:
            click.echo(f"{url[:200]}: {e}", err=True)
            failed += 1
        else:
            click.echo(f"pinned {path.name}")
            pinned += 1
    return pinned, kept, failed

"""Pinned webhook certificates (GATEWAY_PAYPAL_WEBHOOK_CERT_DIR): PayPal's signing
certificates kept in a folder, one PEM file per certificate URL, named by the URL's last
segment (`CERT-360caa42-fca2a594-a5cafa77.pem`). With a folder set, certificates are read
from it and never fetched, so a host with no route to PayPal's certificate URL verifies
webhooks, and a certificate PayPal no longer serves still verifies what it signed.

Pure file handling, no Flask: `CertSource` reads through here, `flask paypal
fetch-webhook-certs` writes through here.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

#: A certificate id as PayPal's URLs end (CERT-360caa42-...): no "/", no "..", no "%xx".
CERT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_PEM_BYTES = 64 * 1024  # a leaf and two intermediates are about 6 KB


class PinRefused(ValueError):
    """A certificate id or pinned file that must not be used (a bad name, a path that
    leaves the folder, a file that is no certificate)."""


class NotPinned(LookupError):
    """The folder holds no file for this certificate (yet)."""


def cert_id(url: str) -> str:
    """The certificate id a URL ends with; PinRefused when it is not a plain id or the path
    holds anything a server might resolve elsewhere ("..", "%xx", "\\")."""
    path = urlsplit(url).path
    segment = path.rsplit("/", 1)[-1]
    if not CERT_ID.fullmatch(segment) or ".." in path or "%" in path or "\\" in url:
        raise PinRefused(f"certificate URL {url[:200]!r} does not end with a certificate id")
    return segment


def pin_path(folder: Path, ident: str) -> Path:
    """The pinned file for a certificate id: inside `folder`, whatever links it holds."""
    if not CERT_ID.fullmatch(ident) or ".." in ident:
        raise PinRefused(f"{ident[:200]!r} is not a certificate id")
    path = folder / f"{ident}.pem"
    # A symbolic link out of the folder is refused: only the folder's own files are trusted.
    if path.exists() and path.resolve().parent != folder.resolve():
        raise PinRefused(f"pinned file {path} leads out of {folder}")
    return path


def read_pinned(folder: Path, url: str) -> list[x509.Certificate]:
    """The certificates pinned for `url` (leaf first); NotPinned or PinRefused."""
    path = pin_path(folder, cert_id(url))
    try:
        with open(path, "rb") as f:
            body = f.read(MAX_PEM_BYTES + 1)
    except FileNotFoundError:
        raise NotPinned(
            f"certificate {path.name} is not pinned in {folder} "
            "(flask paypal fetch-webhook-certs fetches it)"
        ) from None
    except OSError as e:  # a folder, a file we may not read: the operator must look
        raise PinRefused(f"pinned file {path} cannot be read: {type(e).__name__}") from None
    return parse_pem(body, str(path))


def parse_pem(body: bytes, where: str) -> list[x509.Certificate]:
    if len(body) > MAX_PEM_BYTES:
        raise PinRefused(f"{where} is over {MAX_PEM_BYTES} bytes")
    try:
        certs = x509.load_pem_x509_certificates(body)
    except ValueError:
        raise PinRefused(f"{where} holds no PEM certificate") from None
    return certs


def write_pinned(folder: Path, url: str, body: bytes) -> Path:
    """Keep `body` (checked to be PEM certificates) as the pinned file for `url`; written
    to a temporary file and renamed, so a reader never sees half a certificate."""
    parse_pem(body, url)
    path = pin_path(folder, cert_id(url))
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pin-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""The gate for any website behind nginx, Caddy or Traefik (docs/proxies.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from ..access_rules import forwarded as original
from ..access_rules import returns

HEADER_KEYS = ("user", "email", "roles")
#: X- and the rest of an HTTP token (RFC 9110 §5.6.2): no space, colon or line break.
HEADER_NAME = re.compile(r"\A[Xx]-[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


class GateSettingError(ValueError):
    """A forward-auth setting that cannot be used (the app refuses to start)."""


def install(app: Flask) -> None:
    """Check the settings once and keep their parsed forms where the requests read them."""
    cfg = app.config
    for key in ("GATE_PROXIES", "ALLOWED_RETURN_HOSTS", "GATE_CORS_ORIGINS"):
        if isinstance(cfg[key], str):  # a GATEWAY_* variable that is not a JSON list
            raise GateSettingError(f'GATEWAY_{key} is a list: ["...", "..."], not {cfg[key]!r}')
    try:
        app.extensions["gate_proxies"] = original.networks(cfg["GATE_PROXIES"])
    except ValueError as e:
        raise GateSettingError(f"GATEWAY_GATE_PROXIES: {e}") from None
    try:
        app.extensions["return_hosts"] = returns.check_hosts(cfg["ALLOWED_RETURN_HOSTS"])
    except ValueError as e:
        raise GateSettingError(f"GATEWAY_ALLOWED_RETURN_HOSTS: {e}") from None
    app.extensions["cors_origins"] = frozenset(_origins(cfg["GATE_CORS_ORIGINS"]))
    names = cfg["GATE_HEADERS"]
    if not isinstance(names, Mapping) or set(names) != set(HEADER_KEYS):
        raise GateSettingError(f"GATEWAY_GATE_HEADERS names exactly {', '.join(HEADER_KEYS)}")
    if not all(HEADER_NAME.match(str(v)) for v in names.values()):
        raise GateSettingError(
            "GATEWAY_GATE_HEADERS: each header name starts with X- (no space, colon or line break)"
        )
    if len({str(v).lower() for v in names.values()}) != len(HEADER_KEYS):
        raise GateSettingError("GATEWAY_GATE_HEADERS: three different header names")


def _origins(entries: Any) -> list[str]:
    found = []
    for entry in entries:
        parts = urlsplit(str(entry))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise GateSettingError(
                f"GATEWAY_GATE_CORS_ORIGINS: {entry!r} is not an origin like https://app.example.com"
            )
        found.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return found

"""Where a visitor may be sent back to after logging in, the paywall or PayPal.

A path on this site, always; an absolute http(s) URL only on this site's own host or a
host the operator named in `ALLOWED_RETURN_HOSTS` (`docs.example.com`, or
`*.example.com` for every subdomain of it; `host:port` to name one port only). Anything
else (another host, user info in the URL, a backslash or a control character that
browsers read differently from us) is refused, so no one can use our log-in page to
send members to a site of their own (an open redirect).

Pure: no Flask. The log-in, the paywall and the checkout ask `allowed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

#: Characters no return address may hold: browsers strip or reinterpret them.
UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
MAX_LENGTH = 4096
HOST_ENTRY = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def check_hosts(entries: Iterable[str]) -> list[str]:
    """`ALLOWED_RETURN_HOSTS` as lower-case entries (ValueError names a bad one)."""
    hosts = []
    for entry in entries:
        name = str(entry).strip().lower().rstrip(".")
        if not HOST_ENTRY.match(name):
            raise ValueError(
                f"{entry!r}: a return host is a name like docs.example.com, "
                "*.example.com or host:port (no scheme, no path)"
            )
        hosts.append(name)
    return hosts


def allowed(target: str | None, own_host: str, hosts: Iterable[str]) -> str | None:
    """`target` if a visitor may be sent there, else None. `own_host` is the request's
    host (with its port, if any); `hosts` are `check_hosts` entries."""
    if not target or len(target) > MAX_LENGTH or UNSAFE.search(target):
        return None
    if target.startswith("/"):
        return None if target.startswith("//") else target
    try:
        parts = urlsplit(target)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    name = parts.hostname.rstrip(".")
    here = own_host.lower()
    netloc = f"{name}:{port}" if port is not None else name
    if netloc == here or (port is None and name == here):
        return target
    return target if any(_matches(entry, name, port) for entry in hosts) else None


def _matches(entry: str, name: str, port: int | None) -> bool:
    pattern, _, wanted_port = entry.partition(":")
    if wanted_port and port != int(wanted_port):
        return False
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    return name == pattern

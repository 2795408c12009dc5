"""The request a proxy asks about: its method, scheme, host and raw target, read from the
headers nginx, Caddy and Traefik put on a forward-auth call.

Caddy and Traefik send `X-Forwarded-Method` and `X-Forwarded-Uri`; nginx configurations
usually send `X-Original-Method` and `X-Original-URI` (ours sends both spellings). When
both spellings arrive and disagree, one of them was written by the client and passed on
by a proxy that does not overwrite it: nothing is read, the caller is refused. The
scheme and host are the check request's own (`request.scheme`, `request.host`), which
`PROXY_FIX` alone lets a proxy's `X-Forwarded-Proto` / `-Host` set.

Pure: no Flask, no database. `docs/proxies.md` states the contract.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

URI_HEADERS = ("X-Forwarded-Uri", "X-Original-URI")
METHOD_HEADERS = ("X-Forwarded-Method", "X-Original-Method")
#: An HTTP method is a token (RFC 9110 §9.1); ours are upper case.
METHOD = re.compile(r"^[A-Z]{1,20}$")
#: No control characters or spaces in a request target (RFC 9112 §3.2).
BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
READ_ONLY = frozenset({"GET", "HEAD"})


class Unreadable(ValueError):
    """The forward-auth call does not say which request it is about, or says it twice."""


@dataclass(frozen=True)
class Original:
    method: str
    scheme: str
    #: As the visitor sent it (with a port, if any).
    host: str
    #: The raw request target: a path, still percent-encoded, maybe with a query.
    target: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.target}"


def read(
    header: Callable[[str], str | None], scheme: str, host: str, method: str = "GET"
) -> Original:
    """The original request from a header getter (e.g. `request.headers.get`); `scheme`
    and `host` are the check request's own, `method` its method (used when no method
    header came: nginx's auth subrequest keeps the visitor's method)."""
    target = _one(header, URI_HEADERS, "request target")
    if target is None:
        raise Unreadable(
            "the proxy sent neither X-Forwarded-Uri nor X-Original-URI: "
            "which request is this about?"
        )
    if not target.startswith("/") or target.startswith("//") or BAD_TARGET.search(target):
        raise Unreadable(f"not a request path: {target[:80]!r}")
    said = _one(header, METHOD_HEADERS, "method")
    verb = (said or method).strip().upper()
    if not METHOD.match(verb):
        raise Unreadable(f"not an HTTP method: {verb[:20]!r}")
    if not host or BAD_TARGET.search(host) or "/" in host or "@" in host:
        raise Unreadable(f"not a host: {host[:80]!r}")
    return Original(verb, scheme, host, target)


def _one(header: Callable[[str], str | None], names: Iterable[str], what: str) -> str | None:
    """The value the named headers agree on, None when none is sent."""
    values = {value for name in names if (value := header(name)) is not None}
    if len(values) > 1:
        raise Unreadable(f"the proxy's headers disagree on the {what}: refused")
    return values.pop() if values else None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`GATE_PROXIES` as networks (ValueError names the entry that is not one)."""
    found = []
    for entry in entries:
        try:
            found.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an address or network (CIDR)") from None
    return tuple(found)


def peer(environ: Mapping[str, Any]) -> str | None:
    """The connection's own peer address: ProxyFix keeps the one it replaced."""
    orig = environ.get("werkzeug.proxy_fix.orig")
    found = (orig or environ).get("REMOTE_ADDR")
    return str(found) if found is not None else None


def trusted(peer: str | None, allowed: tuple[Network, ...]) -> bool:
    """Is the connection's peer one of the proxies? A Unix socket (no address) is local."""
    if not peer:
        return True
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in net for net in allowed)

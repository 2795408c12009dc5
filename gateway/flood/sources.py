"""Who sent a POST to PayPal's endpoints, and whether it is PayPal (pure: no Flask).

The sender is the connection's peer, unless that peer is one of our proxies
(`TRUSTED_PROXIES`) and `PROXY_FIX` reads `X-Forwarded-For`: then it is the address
ProxyFix found. A peer that is not our proxy may send any X-Forwarded-For it likes; it is
ignored (ProxyFix itself believes the header whoever sends it).

PayPal sends IPNs from the ranges it publishes (`PAYPAL_PUBLISHED`); requests from there
are never limited. The list is PayPal's help article "What are the IP addresses for live
PayPal servers?" (TS1056,
https://www.paypal.com/us/smarthelp/article/what-are-the-ip-addresses-for-live-paypal-servers-ts1056),
section "IPN delivery" / notify.paypal.com, as quoted by public integrations in 2022-2026;
PayPal changes it now and then: `INTAKE_PAYPAL_NETWORKS` replaces it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..access_rules.forwarded import Network, networks, peer, trusted

#: PayPal's published ranges for its servers that send IPNs (see the module's doc).
PAYPAL_PUBLISHED = (
    "64.4.240.0/21",
    "64.4.248.0/22",
    "66.211.168.0/22",
    "91.243.72.0/23",
    "173.0.80.0/20",
    "185.177.52.0/22",
    "192.160.215.0/24",
    "198.54.216.0/23",
)
#: In sim mode the stand-in is PayPal, and it posts from this machine.
LOOPBACK = ("127.0.0.0/8", "::1")
log = logging.getLogger(__name__)
#: Addresses judged and remembered per process; the cache is emptied when it is full.
CACHE_SIZE = 4096


@dataclass(frozen=True)
class Source:
    #: The sender's address as judged (stored with the message), "" when unknown.
    address: str
    #: What the limits count by: the address, or its network (an IPv6 /64 is one sender).
    key: str
    #: Never limited: PayPal's ranges, or a proxy of ours that does not say who sent it.
    exempt: bool
    why: str = ""


def paypal_networks(config: Mapping[str, Any]) -> tuple[Network, ...]:
    configured = config.get("INTAKE_PAYPAL_NETWORKS")
    if configured is None:
        configured = PAYPAL_PUBLISHED + (LOOPBACK if config.get("PAYPAL_MODE") == "sim" else ())
    return networks(configured)


class Sources:
    """`judge(environ)` -> the request's Source, remembered per (peer, forwarded address)."""

    def __init__(
        self,
        paypal: Iterable[Network],
        proxies: Iterable[Network],
        forwarded: bool,
        ipv4_prefix: int = 32,
        ipv6_prefix: int = 64,
    ) -> None:
        self.paypal = tuple(paypal)
        self.proxies = tuple(proxies)
        self.forwarded = forwarded
        self.prefixes = {4: ipv4_prefix, 6: ipv6_prefix}
        self._seen: dict[tuple[str | None, str | None], Source] = {}
        #: A proxy of ours sent a POST without saying whose it is (PROXY_FIX unset).
        self.unforwarded_proxy_seen = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sources:
        return cls(
            paypal_networks(config),
            networks(config.get("TRUSTED_PROXIES") or ()),
            bool((config.get("PROXY_FIX") or {}).get("x_for")),
            int(config.get("INTAKE_SOURCE_PREFIX_IPV4", 32)),
            int(config.get("INTAKE_SOURCE_PREFIX_IPV6", 64)),
        )

    def judge(self, environ: Mapping[str, Any]) -> Source:
        connection = peer(environ)
        claimed = environ.get("REMOTE_ADDR")
        found = self._seen.get((connection, claimed))
        if found is None:
            found = self._judge(connection, claimed)
            if len(self._seen) >= CACHE_SIZE:
                self._seen.clear()
            self._seen[(connection, claimed)] = found
        return found

    def _judge(self, connection: str | None, claimed: str | None) -> Source:
        from_proxy = trusted(connection, self.proxies)
        # ProxyFix's reading of our proxy's X-Forwarded-For; the peer's own otherwise.
        address = claimed if from_proxy and self.forwarded else connection
        parsed = _address(address)
        if parsed is not None and any(parsed in net for net in self.paypal):
            return Source(str(parsed), str(parsed), True, "PayPal's range")
        if from_proxy and (not self.forwarded or address == connection):
            # Our proxy did not say whose request it is (PROXY_FIX unset, or no header):
            # every sender looks alike then, PayPal too, and limiting that one address
            # would refuse PayPal. Said on /admin/status.
            if not self.unforwarded_proxy_seen:
                log.warning(
                    "a POST to PayPal's endpoints came through our proxy %s, which names no "
                    "sender (set PROXY_FIX's x_for): no sender can be limited",
                    connection,
                )
            self.unforwarded_proxy_seen = True
            return Source(str(address or "")[:64], "", True, "a proxy of ours that names no sender")
        if parsed is None:
            return Source(str(address or "")[:64], str(address or "")[:64], False)
        text = str(parsed)
        prefix = self.prefixes[parsed.version]
        if prefix >= parsed.max_prefixlen:
            return Source(text, text, False)
        return Source(text, str(ipaddress.ip_network(f"{text}/{prefix}", strict=False)), False)


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    try:
        parsed = ipaddress.ip_address(value.split("%", 1)[0].strip())
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        return parsed.ipv4_mapped
    return parsed

"""access_rules.forwarded on its own: which request a forward-auth call is about, read from the
headers a proxy (or a client, through a careless proxy) put on it, and who may ask."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.access_rules import forwarded as original
from gateway.access_rules.forwarded import Original, Unreadable

DEFAULT_PROXIES = original.networks(["127.0.0.0/8", "::1"])


def headers(**sent: str):
    """A case-insensitive header getter, as `request.headers.get` is."""
    lower = {name.replace("_", "-").lower(): value for name, value in sent.items()}
    return lambda name: lower.get(name.lower())


def read(method: str = "GET", scheme: str = "https", host: str = "docs.example.com", **sent):
    return original.read(headers(**sent), scheme, host, method)


# --- original.read ---------------------------------------------------------------------


def test_caddy_and_traefik_spelling():
    asked = read(X_Forwarded_Uri="/guides/a%20b?x=1", X_Forwarded_Method="POST")
    assert asked == Original("POST", "https", "docs.example.com", "/guides/a%20b?x=1")
    assert asked.url == "https://docs.example.com/guides/a%20b?x=1"


def test_nginx_spelling():
    asked = read(X_Original_URI="/guides/x", X_Original_Method="DELETE", host="a.test:8443")
    assert asked == Original("DELETE", "https", "a.test:8443", "/guides/x")
    assert asked.url == "https://a.test:8443/guides/x"


def test_both_spellings_agreeing_are_read():
    asked = read(
        X_Forwarded_Uri="/x",
        X_Original_URI="/x",
        X_Forwarded_Method="PUT",
        X_Original_Method="PUT",
    )
    assert (asked.method, asked.target) == ("PUT", "/x")


@pytest.mark.parametrize(
    "sent,what",
    [
        ({"X_Forwarded_Uri": "/free/x", "X_Original_URI": "/guides/x"}, "request target"),
        ({"X_Forwarded_Uri": "/x", "X_Original_URI": "/x/"}, "request target"),
        ({"X_Forwarded_Uri": "/x", "X_Original_URI": ""}, "request target"),
        (
            {"X_Forwarded_Uri": "/x", "X_Forwarded_Method": "GET", "X_Original_Method": "POST"},
            "method",
        ),
        (
            {"X_Forwarded_Uri": "/x", "X_Forwarded_Method": "GET", "X_Original_Method": "get"},
            "method",
        ),
        ({"X_Forwarded_Uri": "/x", "X_Forwarded_Method": "", "X_Original_Method": "GET"}, "method"),
    ],
)
def test_disagreeing_spellings_are_refused(sent, what):
    """One of the two was the client's, passed on by a proxy that sets only the other."""
    with pytest.raises(Unreadable, match=f"disagree on the {what}"):
        read(**sent)


def test_no_target_is_refused():
    with pytest.raises(Unreadable, match="neither"):
        read(X_Forwarded_Method="GET")
    with pytest.raises(Unreadable, match="neither"):
        read(X_Forwarded_Url="/x")  # a near miss is not the header


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("", id="empty"),
        pytest.param("*", id="asterisk-form"),
        pytest.param("http://evil.com/x", id="absolute-form"),
        pytest.param("https://docs.example.com/guides/x", id="absolute-form-own-host"),
        pytest.param("docs.example.com:443", id="authority-form"),
        pytest.param("//evil.com/x", id="protocol-relative"),
        pytest.param("///x", id="three-slashes"),
        pytest.param("guides/x", id="relative"),
        pytest.param(" /guides/x", id="leading-space"),
        pytest.param("/guides/x HTTP/1.1", id="request-line-smuggled"),
        pytest.param("/guides/x\r\nX-Tollgate-User: 1", id="crlf"),
        pytest.param("/guides/x\n", id="trailing-newline"),
        pytest.param("/guides\x00/x", id="nul"),
        pytest.param("/guides\t/x", id="tab"),
        pytest.param("/guides\x1b/x", id="escape"),
        pytest.param("/guides\x7f/x", id="del"),
    ],
)
def test_what_is_not_a_request_path_is_refused(target):
    with pytest.raises(Unreadable, match="not a request path"):
        read(X_Forwarded_Uri=target)


@pytest.mark.parametrize(
    "target", ["/", "/a%2F%2Fb", "/a/../b", "/%00", "/?next=//evil.com", "/é", "/a;b=c"]
)
def test_raw_paths_are_passed_on_unchanged(target):
    """Decoding and `..` are canonical_path's business, not read's."""
    assert read(X_Forwarded_Uri=target).target == target


@pytest.mark.parametrize(
    "said,own,expected",
    [
        (None, "GET", "GET"),  # nginx's subrequest keeps the visitor's method
        (None, "POST", "POST"),
        ("", "HEAD", "HEAD"),  # an empty header says nothing
        ("post", "GET", "POST"),
        (" PATCH ", "GET", "PATCH"),
        ("PROPFIND", "GET", "PROPFIND"),
    ],
)
def test_method_header_or_the_check_requests_own(said, own, expected):
    sent = {"X_Forwarded_Uri": "/x"} | ({} if said is None else {"X_Forwarded_Method": said})
    assert read(method=own, **sent).method == expected


@pytest.mark.parametrize(
    "said",
    [
        pytest.param("GET /admin", id="space"),
        pytest.param("GET\r\nX", id="crlf"),
        pytest.param("G-ET", id="hyphen"),
        pytest.param("GET1", id="digit"),
        pytest.param("GÉT", id="non-ascii"),
        pytest.param("X" * 21, id="too-long"),
        pytest.param("   ", id="blank"),
    ],
)
def test_bad_methods_are_refused(said):
    with pytest.raises(Unreadable, match="not an HTTP method"):
        read(X_Forwarded_Uri="/x", X_Forwarded_Method=said)


def test_a_bad_method_of_the_check_itself_is_refused():
    with pytest.raises(Unreadable, match="not an HTTP method"):
        read(method="", X_Forwarded_Uri="/x")


@pytest.mark.parametrize(
    "host",
    ["", "evil.com/x", "user@docs.example.com", "docs example.com", "docs.example.com\r\n"],
)
def test_bad_hosts_are_refused(host):
    with pytest.raises(Unreadable, match="not a host"):
        read(host=host, X_Forwarded_Uri="/x")


# --- original.networks -----------------------------------------------------------------


def test_networks_reads_addresses_and_cidrs():
    assert original.networks([" 10.0.0.0/8 ", "192.0.2.7", "::1", "fd00::/8", "10.1.2.3/16"]) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.7/32"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("fd00::/8"),
        ipaddress.ip_network("10.1.0.0/16"),  # host bits set: the network it is in
    )
    assert original.networks([]) == ()


@pytest.mark.parametrize(
    "entry",
    ["nginx", "", "10.0.0.0/33", "10.0.0", "300.1.1.1", "::1/129", "10.0.0.0/8,::1", "*"],
)
def test_networks_names_a_bad_entry(entry):
    with pytest.raises(ValueError, match="is not an address or network") as refused:
        original.networks(["127.0.0.1", entry])
    assert repr(entry) in str(refused.value)


# --- original.trusted ------------------------------------------------------------------


@pytest.mark.parametrize(
    "peer,expected",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # a dual-stack socket's IPv4 peer
        ("::FFFF:127.0.0.1", True),
        ("0:0:0:0:0:0:0:1", True),
        ("", True),  # a Unix socket: no address
        (None, True),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("::2", False),
        ("::ffff:10.0.0.1", False),
        ("::127.0.0.1", False),  # IPv4-compatible, not mapped: not loopback
        ("fe80::1%lo", False),
        ("localhost", False),
        ("127.0.0.1.evil.com", False),
        ("127.0.0.1:80", False),
        ("[::1]", False),
        (" 127.0.0.1", False),
        ("garbage", False),
    ],
)
def test_trusted_with_the_default_proxies(peer, expected):
    assert original.trusted(peer, DEFAULT_PROXIES) is expected


@pytest.mark.parametrize(
    "peer,expected",
    [
        ("fe80::1%eth0", True),  # a zone id names the interface, not the address
        ("fe80::abcd%2", True),
        ("fd00::1", True),
        ("192.0.2.200", True),
        ("::ffff:192.0.2.200", True),
        ("192.0.3.1", False),
        ("fe80::1%", True),
        ("fe81::1%eth0", True),  # still in fe80::/10
        ("fec0::1%eth0", False),
        ("127.0.0.1", False),  # loopback is not trusted unless named
        ("::1", False),
    ],
)
def test_trusted_with_named_networks(peer, expected):
    allowed = original.networks(["fe80::/10", "fd00::/8", "192.0.2.128/25"])
    assert original.trusted(peer, allowed) is expected


def test_nobody_is_trusted_over_the_network_with_no_proxies():
    assert original.trusted("127.0.0.1", ()) is False
    assert original.trusted("::1", ()) is False
    assert original.trusted("", ()) is True  # a Unix socket is as local as it gets

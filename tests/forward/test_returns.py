"""access_rules.returns as an attacker sees it: where the log-in, the paywall and the checkout
may send a visitor back to. Every URL below is one an open redirect would be built from.

IDN decision (documented here, kept by the tests): entries are ASCII, so an
internationalised host is named in its punycode (xn--) form; a return URL that spells
such a host in Unicode is refused rather than converted (browsers put punycode in the
address they send, and refusing is the safe side of any mismatch with their IDNA rules).
"""

from __future__ import annotations

import pytest

from gateway.access_rules.returns import MAX_LENGTH, allowed, check_hosts

OWN = "members.example.org"
HOSTS = check_hosts(
    ["docs.example.org", "*.example.com", "shop.example.net:8443", "XN--BCHER-KVA.example"]
)


def ok(target: str, own: str = OWN) -> bool:
    return allowed(target, own, HOSTS) == target


# --- paths on this site --------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["/", "/account", "/guides/a%20b.html?x=1&y=2#part", "/a//b", "/%2F%2Fevil.com", "/@evil"],
)
def test_a_path_on_this_site_is_kept_as_it_is(target):
    assert ok(target)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("//evil.com", id="protocol-relative"),
        pytest.param("//evil.com/path", id="protocol-relative-path"),
        pytest.param("///evil.com", id="three-slashes"),
        pytest.param("/\\evil.com", id="slash-backslash"),
        pytest.param("\\\\evil.com", id="two-backslashes"),
        pytest.param("\\/evil.com", id="backslash-slash"),
        pytest.param("/\t/evil.com", id="tab-between-slashes"),
        pytest.param("/\n/evil.com", id="newline-between-slashes"),
        pytest.param("/\r/evil.com", id="cr-between-slashes"),
        pytest.param(" //evil.com", id="leading-space"),
        pytest.param("\x00/evil.com", id="nul"),
        pytest.param("evil.com", id="bare-name"),
        pytest.param("evil.com/path", id="bare-name-path"),
        pytest.param("account", id="relative-without-slash"),
        pytest.param("", id="empty"),
    ],
)
def test_what_a_browser_reads_as_another_host_is_refused(target):
    assert allowed(target, OWN, HOSTS) is None


def test_none_is_refused():
    assert allowed(None, OWN, HOSTS) is None


# --- absolute URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://docs.example.org/guides/x?y=1",
        "http://docs.example.org",
        "https://DOCS.Example.ORG/x",  # a host is case-insensitive; the URL is kept as given
        "HTTPS://docs.example.org/x",
        "https://docs.example.org./x",  # the root's trailing dot
        "https://docs.example.org:8443/x",  # a plain entry names the host on any port
        "https://docs.example.org:/x",  # an empty port is the default one
        "https://a.example.com/",
        "https://deep.er.example.com/x",
        "https://A.EXAMPLE.COM./x",
        "https://shop.example.net:8443/cart",
        "https://xn--bcher-kva.example/",  # punycode entry, punycode URL
        f"https://{OWN}/account",  # our own host needs no entry
        f"https://{OWN.upper()}/account",
        "https://docs.example.org/#@evil.com",  # a fragment is not the host
        "https://docs.example.org/x?next=https://evil.com",
    ],
)
def test_allowed_hosts_and_our_own(target):
    assert ok(target)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("https://evil.com", id="foreign"),
        pytest.param("https://evil.com/docs.example.org", id="foreign-path-names-ours"),
        pytest.param("https://docs.example.org@evil.com", id="userinfo-is-ours"),
        pytest.param("https://docs.example.org:443@evil.com/", id="userinfo-with-port"),
        pytest.param("https://user:pw@docs.example.org/", id="userinfo-on-allowed-host"),
        pytest.param("https://@docs.example.org/", id="empty-userinfo"),
        pytest.param("https://evil.com#@docs.example.org", id="fragment-names-ours"),
        pytest.param("https://evil.com?@docs.example.org", id="query-names-ours"),
        pytest.param("https://evil.com\\@docs.example.org", id="backslash-userinfo"),
        pytest.param("https://docs.example.org.evil.com/", id="ours-as-subdomain"),
        pytest.param("https://docs.example.org%2eevil.com/", id="encoded-dot-suffix"),
        pytest.param("https://evildocs.example.org/", id="suffix-without-dot"),
        pytest.param("https://evilexample.com/", id="wildcard-suffix-without-dot"),
        pytest.param("https://example.com/", id="wildcard-is-not-the-apex"),
        pytest.param("https://example.com./", id="wildcard-apex-trailing-dot"),
        pytest.param("https://.example.com/", id="wildcard-empty-label"),
        pytest.param("https://example.com.evil.com/", id="apex-as-subdomain"),
        pytest.param("https://a.example.com.evil.com/", id="wildcard-as-subdomain"),
        pytest.param("https://shop.example.net/", id="port-entry-default-port"),
        pytest.param("https://shop.example.net:443/", id="port-entry-other-port"),
        pytest.param("https://shop.example.net:0/", id="port-entry-port-zero"),
        pytest.param(f"https://{OWN}:8443/", id="own-host-other-port"),
        pytest.param(f"https://{OWN}:0/", id="own-host-port-zero"),
        pytest.param("https://docs.example.org:99999/", id="port-out-of-range"),
        pytest.param("https://docs.example.org:80:443/", id="two-ports"),
        pytest.param("https://docs.example.org:+443/", id="signed-port"),
        pytest.param("https://bücher.example/", id="idn-in-unicode"),
        pytest.param("https://ｄocs.example.org/", id="fullwidth-letter"),
        pytest.param("https://docs.example.org／.evil.com/", id="fullwidth-solidus"),
        pytest.param("https://docs.example.org。evil.com/", id="ideographic-full-stop"),
        pytest.param("https://[::1]/", id="ipv6-literal"),
        pytest.param("https://127.0.0.1/", id="ip-literal"),
    ],
)
def test_other_hosts_and_disguises_are_refused(target):
    assert allowed(target, OWN, HOSTS) is None


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("http:/\\evil.com", id="scheme-slash-backslash"),
        pytest.param("http:\\\\evil.com", id="scheme-backslashes"),
        pytest.param("https:/docs.example.org/x", id="one-slash"),
        pytest.param("https:docs.example.org", id="no-slashes"),
        pytest.param("https:///evil.com", id="three-slashes-browsers-skip"),
        pytest.param("https:///docs.example.org", id="three-slashes-ours"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("JaVaScRiPt:alert(1)", id="javascript-mixed-case"),
        pytest.param("javascript://docs.example.org/%0aalert(1)", id="javascript-authority"),
        pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
        pytest.param("data:text/html;base64,PHNjcmlwdD4=", id="data-base64"),
        pytest.param("vbscript:msgbox(1)", id="vbscript"),
        pytest.param("ftp://docs.example.org/", id="ftp"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("mailto:a@docs.example.org", id="mailto"),
        pytest.param("//docs.example.org/x", id="protocol-relative-allowed-host"),
    ],
)
def test_schemes_other_than_http_and_broken_authorities_are_refused(target):
    assert allowed(target, OWN, HOSTS) is None


@pytest.mark.parametrize("char", ["\t", "\n", "\r", " ", "\x00", "\x1f", "\x7f", "\\"])
@pytest.mark.parametrize(
    "template",
    [
        "https://docs.example.org/a{c}b",
        "https://docs.{c}example.org/",
        "{c}https://docs.example.org/",
    ],
)
def test_control_characters_spaces_and_backslashes_anywhere_are_refused(template, char):
    """Browsers strip tabs and newlines and read a backslash as a slash: we refuse them."""
    assert allowed(template.format(c=char), OWN, HOSTS) is None


def test_very_long_urls_are_refused():
    base = "https://docs.example.org/"
    fits = base + "a" * (MAX_LENGTH - len(base))
    assert ok(fits)
    assert allowed(fits + "a", OWN, HOSTS) is None
    assert allowed("/" + "a" * MAX_LENGTH, OWN, HOSTS) is None
    assert allowed("/" + "a" * 1_000_000, OWN, HOSTS) is None


def test_own_host_with_a_port_matches_that_port_only():
    own = "localhost:5000"
    assert ok("http://localhost:5000/x", own)
    assert ok("http://LOCALHOST:5000/x", own)
    assert allowed("http://localhost/x", own, HOSTS) is None
    assert allowed("http://localhost:5001/x", own, HOSTS) is None
    assert ok("/x", own)


def test_without_entries_only_our_own_host():
    assert allowed("https://docs.example.org/", OWN, []) is None
    assert allowed(f"https://{OWN}/x", OWN, []) == f"https://{OWN}/x"


def test_a_wildcard_entry_with_a_port():
    hosts = check_hosts(["*.example.com:8443"])
    assert allowed("https://a.example.com:8443/", OWN, hosts) is not None
    assert allowed("https://a.example.com/", OWN, hosts) is None
    assert allowed("https://a.example.com:443/", OWN, hosts) is None
    assert allowed("https://example.com:8443/", OWN, hosts) is None


# --- check_hosts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry,kept",
    [
        ("docs.example.org", "docs.example.org"),
        ("  Docs.Example.ORG  ", "docs.example.org"),
        ("docs.example.org.", "docs.example.org"),
        ("*.example.com", "*.example.com"),
        ("*.Example.COM.", "*.example.com"),
        ("host:8443", "host:8443"),
        ("localhost", "localhost"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.example", "a-b.example"),
    ],
)
def test_check_hosts_keeps_names_lower_case(entry, kept):
    assert check_hosts([entry]) == [kept]


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("https://x", id="scheme"),
        pytest.param("http://docs.example.org", id="scheme-host"),
        pytest.param("//x", id="protocol-relative"),
        pytest.param("x/path", id="path"),
        pytest.param("x/", id="trailing-slash"),
        pytest.param("*", id="star"),
        pytest.param("*.", id="star-dot"),
        pytest.param("*.*.example.com", id="two-stars"),
        pytest.param("a.*.example.com", id="inner-star"),
        pytest.param("*example.com", id="star-without-dot"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(".", id="dot"),
        pytest.param(".example.com", id="leading-dot"),
        pytest.param("-x.example.com", id="leading-hyphen"),
        pytest.param("user@docs.example.org", id="userinfo"),
        pytest.param("docs.example.org:", id="empty-port"),
        pytest.param("docs.example.org:port", id="named-port"),
        pytest.param("docs.example.org:123456", id="six-digit-port"),
        pytest.param("docs example.org", id="space"),
        pytest.param("docs.example.org\\", id="backslash"),
        pytest.param("bücher.example", id="unicode-idn"),
        pytest.param("[::1]", id="ipv6-literal"),
        pytest.param("docs.example.org?x", id="query"),
        pytest.param("docs.example.org#x", id="fragment"),
    ],
)
def test_check_hosts_refuses_what_is_not_a_host(entry):
    with pytest.raises(ValueError, match="return host"):
        check_hosts([entry])


def test_check_hosts_names_the_bad_entry_among_good_ones():
    with pytest.raises(ValueError, match="'https://x'"):
        check_hosts(["docs.example.org", "https://x", "*.example.com"])
    assert check_hosts([]) == []

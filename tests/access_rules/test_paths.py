"""Path tricks, as an attacker writes them: every spelling of a protected path is either
refused or judged as the protected path, never as the public rule around it."""

from __future__ import annotations

import pytest

from gateway.access_rules.paths import BadPath, canonical_host, canonical_path
from gateway.access_rules.table import Rule, RuleTable, Who

PROTECTED = "/premium/guide"
TABLE = RuleTable(
    [Rule.parse("/premium/**", "premium"), Rule.parse("/**", "public")], Who(public=True)
)

#: Raw request targets (as a proxy forwards X-Original-URI) that mean /premium/guide to
#: some server, or that no server should be asked to guess about.
RAW_TRICKS = [
    "/premium/guide",
    "/PREMIUM/guide",
    "/Premium/Guide",
    "//premium/guide",
    "/premium//guide",
    "///premium///guide///",
    "/premium/guide/",
    "/./premium/guide",
    "/premium/./guide",
    "/public/../premium/guide",
    "/x/y/../../premium/guide",
    "/%70remium/guide",
    "/%50REMIUM/guide",
    "/premium%2Fguide",
    "/premium%2fguide",
    "/%2e/premium/guide",
    "/public/%2e%2e/premium/guide",
    "/public/%2E%2E/premium/guide",
    "/public/.%2e/premium/guide",
    "/public/%2e./premium/guide",
    "/public/..%2Fpremium/guide",
    "/public/%2e%2e%2fpremium/guide",
    "/public/..;/premium/guide",
    "/public/..;x=1/premium/guide",
    "/premium;jsessionid=1/guide",
    "/premium./guide",
    "/premium../guide",
    "/premium%20/guide",
    "/premium/guide.",
    "/premium/guide%2e",
    "/premium/guide%20%2e",
    "/premium\\guide",
    "/premium%5cguide",
    "/public\\..\\premium\\guide",
    "/public%5c..%5cpremium%5cguide",
    "/public/%252e%252e/premium/guide",
    "/premium%252fguide",
    "/%2570remium/guide",
    "/public/%u002e%u002e/premium/guide",
    "/%EF%BD%90%EF%BD%92%EF%BD%85%EF%BD%8D%EF%BD%89%EF%BD%95%EF%BD%8D/guide",  # fullwidth
    "/premium%EF%BC%8Fguide",  # fullwidth solidus
    "/public/%EF%BC%8E%EF%BC%8E/premium/guide",  # fullwidth full stops
    "/prem%C4%B1um/guide",  # dotless i: the same name to NTFS
    "/PREM%C4%B0UM/guide",  # dotted capital I
    "/premium%00/guide",
    "/premium%0a/guide",
    "/premium%0d%0a/guide",
    "/premium%E2%80%8B/guide",  # zero-width space
    "/premium%E2%80%AE/guide",  # right-to-left override
    "/%C0%AE%C0%AE/premium/guide",  # overlong UTF-8 dots
    "/%C0%AFpremium/guide",
    "/public/../../premium/guide",
    "/public/.../premium/guide",
    "/public/.. /premium/guide",
    "/premium/guide?x=/public",
    "/premium/guide#/public",
    "/premium/guide?%2e%2e",
    "premium/guide",
]


@pytest.mark.parametrize("target", RAW_TRICKS)
def test_a_trick_is_refused_or_judged_as_the_protected_path(target):
    """Is every spelling of /premium/guide either refused or judged as premium?"""
    try:
        path = canonical_path(target, raw=True)
    except BadPath:
        return
    assert TABLE.decide(path).who == Who(roles=frozenset({"premium"})), (target, path)


def test_there_are_at_least_forty_tricks():
    """Does the attack list hold at least 40 distinct spellings?"""
    assert len(set(RAW_TRICKS)) >= 40


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/public/../premium/guide", "/premium/guide"),
        ("/public/..;/premium/guide", "/premium/guide"),
        ("/Premium//Guide/", "/premium/guide"),
        ("/premium%2fguide", "/premium/guide"),
        ("/%EF%BD%90remium/guide", "/premium/guide"),
        ("/premium./guide.", "/premium/guide"),
        ("/a/b?c=d#e", "/a/b"),
        ("/", "/"),
        ("//", "/"),
        ("/caf%C3%A9", "/café"),
        ("/CAF%C3%89", "/café"),
        ("/stra%C3%9Fe", "/strasse"),
    ],
)
def test_canonical_form(target, expected):
    """Does each spelling come out in the one expected form?"""
    assert canonical_path(target, raw=True) == expected


@pytest.mark.parametrize(
    "target",
    [
        "/public/%252e%252e/premium",
        "/%u002e",
        "/a%00",
        "/a%E2%80%8Bb",
        "/%C0%AE",
        "/..",
        "/a/../..",
        "/...",
        "/a/.. /b",
        "relative",
        "/" + "a" * 5000,
    ],
)
def test_ambiguous_paths_are_refused(target):
    """Is a path that servers could read two ways refused outright?"""
    with pytest.raises(BadPath):
        canonical_path(target, raw=True)


def test_wsgi_paths_are_decoded_once_already():
    """Is a WSGI PATH_INFO (bytes as latin-1 text, decoded once by the server) read as
    UTF-8 and not decoded a second time?"""
    assert canonical_path("/caf\xc3\xa9") == "/café"
    assert canonical_path("/public/../premium/guide") == "/premium/guide"
    with pytest.raises(BadPath):
        canonical_path("/%2e%2e/premium")  # %2e left in a decoded path: encoded twice
    with pytest.raises(BadPath):
        canonical_path("/caf\u00e9\u4e00")  # not a WSGI string


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Docs.Example.COM", "docs.example.com"),
        ("docs.example.com:8443", "docs.example.com"),
        ("docs.example.com.", "docs.example.com"),
        ("[::1]:8080", "[::1]"),
    ],
)
def test_hosts_are_named_one_way(host, expected):
    """Are case, a port and a trailing dot taken off a host name?"""
    assert canonical_host(host) == expected

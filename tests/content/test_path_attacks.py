"""Other spellings of protected paths, sent as raw request targets the way a WSGI
server passes them on (PATH_INFO: the target's path percent-decoded once, as latin-1
text of its bytes). For visitors without access each answers 400, 403, 404 or a
redirect to a path that answers 403, never a protected byte; for a visitor with access
the spellings that mean the protected path open it, so the refusals are the rules'
doing, not blanket refusal of odd paths."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes, urlsplit

import pytest

from .conftest import GUIDE_SECRET, PDF, PRO_SECRET, SECRET, no_bytes_of

FILE, GUIDE, PREMIUM, INDEX = (
    "/pro/files/handbook.pdf",
    "/pro/guide",
    "/premium-guide",
    "/pro/index",
)
#: Outcomes: the protected path itself (after at most one redirect), 400, 404.
SAME, BAD, NONE = "same", 400, 404

VARIANTS = [
    # encoded and doubled dots
    ("/pro/files/%2e%2e/files/handbook.pdf", SAME),
    ("/pro/files/%2E%2E/files/handbook.pdf", SAME),
    ("/pro/files/%2e/handbook.pdf", SAME),
    ("/pro/files/handbook%2Epdf", SAME),
    ("/pro/files/..%2fhandbook.pdf", NONE),  # /pro/handbook.pdf
    ("/public-notes/..%2fpro/files/handbook.pdf", SAME),
    ("/public-notes/..%2Fpro%2Ffiles%2Fhandbook.pdf", SAME),
    ("/pro/files/%252e%252e/files/handbook.pdf", BAD),  # encoded twice
    ("/pro/%252ffiles/handbook.pdf", BAD),
    ("/pro/files/%u002e%u002e/files/handbook.pdf", BAD),  # IIS's %u
    ("/pro/files/%c0%ae%c0%ae/files/handbook.pdf", BAD),  # overlong UTF-8
    ("/pro/files/%ff/handbook.pdf", BAD),
    ("/public/../pro/files/handbook.pdf", SAME),
    ("/pro/./files/handbook.pdf", SAME),
    ("/pro/files/../../pro/files/handbook.pdf", SAME),
    ("/../pro/files/handbook.pdf", BAD),  # above the root
    ("/pro/files/.../handbook.pdf", BAD),
    # slashes
    ("//pro//files/handbook.pdf", SAME),
    ("/pro///files//handbook.pdf", SAME),
    ("/pro/files/handbook.pdf/", SAME),
    ("/pro/files/handbook.pdf%2f", SAME),
    ("/pro%2Ffiles%2Fhandbook.pdf", SAME),
    ("/pro%2ffiles/handbook.pdf", SAME),
    ("\\pro\\files\\handbook.pdf", SAME),
    ("/pro%5cfiles%5Chandbook.pdf", SAME),
    # case, trailing dots and spaces, parameters, query, fragment
    ("/PRO/FILES/HANDBOOK.PDF", SAME),
    ("/Pro/Files/Handbook.Pdf", SAME),
    ("/%70ro/f%69les/handbook.pdf", SAME),
    ("/pro/files/handbook.pdf.", SAME),
    ("/pro/files/handbook.pdf..", SAME),
    ("/pro/files/handbook.pdf%20", SAME),
    ("/pro/files/handbook.pdf%20.%20", SAME),
    ("/pro;x/files/handbook.pdf", SAME),
    ("/pro/files/handbook.pdf;.txt", SAME),
    ("/pro/files/..;/files/handbook.pdf", SAME),
    ("/pro/files/handbook.pdf?x=1", SAME),
    ("/pro/files/handbook.pdf?/../../public-notes", SAME),
    ("/pro/files/handbook.pdf#top", SAME),
    ("/pro/files/handbook.pdf%23top", NONE),
    ("/pro/files/handbook.pdf%3f.txt", NONE),
    ("/pro/files/handbook.pdf::$DATA", NONE),
    # control characters and NUL
    ("/pro%00/files/handbook.pdf", BAD),
    ("/pro/files/handbook.pdf%00.txt", BAD),
    ("/pro/files/handbook.pdf%09", BAD),
    ("/pro/files/handbook.pdf%0d%0a", NONE),  # no route: the path converter stops at \n
    # Unicode: compatibility forms, Turkish i's, combining marks, invisible characters
    ("/ｐｒｏ/files/handbook.pdf", SAME),
    ("/%EF%BD%90%EF%BD%92%EF%BD%8F/files/handbook.pdf", SAME),
    ("/pro/\ufb01les/handbook.pdf", SAME),  # the ﬁ ligature
    ("/pro/files/handbook\uff0epdf", SAME),  # fullwidth full stop
    ("/pro/files\uff0fhandbook.pdf", SAME),  # fullwidth solidus
    ("/pro/f\u0131les/handbook.pdf", SAME),  # dotless ı
    ("/PRO/F\u0130LES/HANDBOOK.PDF", SAME),  # dotted İ
    ("/pro/fi\u0307les/handbook.pdf", SAME),  # i + combining dot above
    ("/pro/files/handbook.pdf\u0301", NONE),  # a combining acute: another name
    ("/pro/fi\u200dles/handbook.pdf", BAD),  # zero-width joiner
    ("/pro/files/hand\u200bbook.pdf", BAD),  # zero-width space
    ("/pro/files/handbook.pdf\u200e", BAD),  # left-to-right mark
    ("/pro/files/handbook.pdf\ufeff", BAD),  # byte order mark
    ("/pro" + "/." * 2100 + "/files/handbook.pdf", BAD),  # longer than any path
    # the stored-rule page, the role page and the pro intro
    ("/PRO/GUIDE", SAME, GUIDE),
    ("/pro//guide/", SAME, GUIDE),
    ("/pro/./guide.", SAME, GUIDE),
    ("/pro%2fguide", SAME, GUIDE),
    ("/pro/gu\u0131de", SAME, GUIDE),
    ("/pro/guide.md", NONE, GUIDE),
    ("/PREMIUM-GUIDE", SAME, PREMIUM),
    ("/premium-guide/", SAME, PREMIUM),
    ("/premium-guide.", SAME, PREMIUM),
    ("/premium%2dguide", SAME, PREMIUM),
    ("/premium-guide;jsessionid=1", SAME, PREMIUM),
    ("//premium-guide", SAME, PREMIUM),
    ("/public-notes/../premium-guide", SAME, PREMIUM),
    ("/ｐｒｅｍｉｕｍ－ｇｕｉｄｅ", SAME, PREMIUM),
    ("/prem\u0131um-guide", SAME, PREMIUM),
    ("/premium-guide%252f", BAD, PREMIUM),
    ("/premium-guide.md", NONE, PREMIUM),
    ("/PREMIUM-GUIDE.MD", NONE, PREMIUM),
    ("/premium-guide.md.", NONE, PREMIUM),
    ("/pro/index", NONE, INDEX),
    ("/PRO/INDEX/", NONE, INDEX),
    ("/pro/index.md", NONE, INDEX),
    ("/pro/files/../index.md", NONE, INDEX),
]
CASES = [(v[0], v[1], v[2] if len(v) > 2 else FILE) for v in VARIANTS]
IDS = [ascii(raw)[1:-1][:60] for raw, _, _ in CASES]
SAME_CASES = [c for c in CASES if c[1] == SAME]
SAME_IDS = [i for i, c in zip(IDS, CASES, strict=True) if c[1] == SAME]
OTHER_CASES = [c for c in CASES if c[1] != SAME]
OTHER_IDS = [i for i, c in zip(IDS, CASES, strict=True) if c[1] != SAME]
SECRETS = [s.encode() for s in (SECRET, PRO_SECRET, GUIDE_SECRET)]


def send(browser, raw: str, method: str = "GET"):
    """The raw request target as a WSGI server passes it on: the fragment never reaches
    the app, the query is apart, and the path is decoded once, its bytes as latin-1."""
    target = raw.split("#", 1)[0]
    path, _, query = target.partition("?")
    path_info = unquote_to_bytes(path).decode("latin-1")
    uri = target.encode().decode("latin-1")
    return browser.open(
        "/",
        method=method,
        environ_overrides={
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "RAW_URI": uri,
            "REQUEST_URI": uri,
        },
    )


def assert_nothing_protected(r) -> None:
    assert no_bytes_of(PDF, r.data) and b"%PDF" not in r.data
    for secret in SECRETS:
        assert secret not in r.data


def check_refused(browser, raw: str, outcome: object) -> None:
    r = send(browser, raw)
    assert_nothing_protected(r)
    if outcome == SAME and 300 <= r.status_code < 400:
        location = urlsplit(r.headers["Location"])
        assert location.netloc in ("", "localhost")
        r = send(browser, location.path + ("?" + location.query if location.query else ""))
        assert_nothing_protected(r)
    expected = 403 if outcome == SAME else outcome
    assert r.status_code == expected


@pytest.mark.parametrize("kind", ["anonymous", "member"])
@pytest.mark.parametrize(("raw", "outcome", "target"), CASES, ids=IDS)
def test_refused_without_access(browsers, kind, raw, outcome, target):
    check_refused(browsers[kind], raw, outcome)


@pytest.mark.parametrize(("raw", "outcome", "target"), CASES, ids=IDS)
def test_head_refused_without_access(browsers, raw, outcome, target):
    r = send(browsers["member"], raw, method="HEAD")
    assert r.status_code in (400, 403, 404, 308) and r.data == b""


@pytest.mark.parametrize(("raw", "outcome", "target"), SAME_CASES, ids=SAME_IDS)
def test_same_spellings_open_for_a_subscriber(browsers, raw, outcome, target):
    """What the gate refuses above it serves here under the protected path's own name."""
    browser = browsers["subscriber"]
    r = send(browser, raw)
    if 300 <= r.status_code < 400:
        r = send(browser, urlsplit(r.headers["Location"]).path)
    assert r.status_code == 200
    if target == FILE:
        assert r.data == PDF
    else:
        assert (SECRET if target == PREMIUM else GUIDE_SECRET).encode() in r.data


@pytest.mark.parametrize(("raw", "outcome", "target"), OTHER_CASES, ids=OTHER_IDS)
def test_other_spellings_stay_shut_for_a_subscriber(browsers, raw, outcome, target):
    r = send(browsers["subscriber"], raw)
    assert r.status_code == outcome
    assert_nothing_protected(r)

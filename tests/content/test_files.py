"""Protected downloads (gateway/content/files.py) on a bare Flask app: no database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse
from werkzeug.wsgi import FileWrapper

from gateway.content.files import content_type, send_asset

DATA = bytes(range(256)) * 40  # 10,240 bytes, each offset recognisable


class BufferedClient(FlaskClient):
    """Each answer read whole, so the file it streamed is closed before the test ends."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def make_app(root: Path, **config: object) -> Flask:
    """GET /<gated|public>/<path>: the file at `path` under `root`, as the routes call it."""
    app = Flask(__name__)
    app.config.update(config)
    app.test_client_class = BufferedClient

    @app.route("/<kind>/<path:name>")
    def download(kind: str, name: str):
        return send_asset(root / name, root, gated=kind == "gated")

    return app


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "talk.mp4").write_bytes(DATA)
    return folder


@pytest.fixture
def get(root: Path) -> Callable[..., TestResponse]:
    client: FlaskClient = make_app(root).test_client()

    def fetch(url: str, **headers: str) -> TestResponse:
        return client.get(url, headers=headers)

    return fetch


def test_full_get(get):
    """Is a whole file sent with its type, length, validators and nosniff?"""
    r = get("/gated/talk.mp4")
    assert r.status_code == 200
    assert r.data == DATA
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["ETag"] and r.headers["Last-Modified"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"] == "inline; filename=talk.mp4"


def test_streamed_not_read(root):
    """Is the body the open file handed to the server, never read into memory?"""
    app = make_app(root)
    with app.test_request_context("/gated/talk.mp4"):
        response = send_asset(root / "talk.mp4", root, gated=True)
        assert response.direct_passthrough
        assert isinstance(response.response, FileWrapper)
        assert b"".join(response.response) == DATA
        response.close()


def test_conditional_requests(get):
    """Do If-None-Match and If-Modified-Since answer 304, and a stale ETag 200?"""
    first = get("/gated/talk.mp4")
    again = get("/gated/talk.mp4", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["Cache-Control"] == "no-cache, private"
    since = get("/gated/talk.mp4", **{"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    assert get("/gated/talk.mp4", **{"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize(
    ("asked", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=-1024", len(DATA) - 1024, len(DATA)),
        ("bytes=10000-", 10000, len(DATA)),
    ],
)
def test_range(get, asked, start, stop):
    """Is one range answered 206 with its bytes and Content-Range (first, suffix, open)?"""
    r = get("/gated/talk.mp4", Range=asked)
    assert r.status_code == 206
    assert r.data == DATA[start:stop]
    assert r.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    assert r.headers["Content-Length"] == str(stop - start)


class ServerWrapper:
    """A server's wsgi.file_wrapper as gunicorn's is: iterable, with no seek."""

    used: list[int] = []

    def __init__(self, file, block=8192):
        self.file, self.block = file, block
        self.close = file.close
        ServerWrapper.used.append(block)

    def __iter__(self):
        return iter(lambda: self.file.read(self.block), b"")


def test_range_seeks(root):
    """Is a range read from its start (Werkzeug's seekable wrapper), while a whole file
    still goes to the server's wrapper (gunicorn's sendfile)?"""
    client = make_app(root).test_client()
    ServerWrapper.used.clear()
    whole = client.get("/gated/talk.mp4", environ_overrides={"wsgi.file_wrapper": ServerWrapper})
    assert whole.data == DATA and len(ServerWrapper.used) == 1
    part = client.get(
        "/gated/talk.mp4",
        headers={"Range": "bytes=-10"},
        environ_overrides={"wsgi.file_wrapper": ServerWrapper},
    )
    assert part.status_code == 206 and part.data == DATA[-10:]
    assert len(ServerWrapper.used) == 1


def test_range_if_range(get):
    """Is a Range with a stale If-Range answered with the whole file?"""
    r = get("/gated/talk.mp4", Range="bytes=0-9", **{"If-Range": '"stale"'})
    assert r.status_code == 200 and r.data == DATA


@pytest.mark.parametrize("asked", ["bytes=20000-", "bytes=-0", "bytes=abc", "bytes=9-3"])
def test_range_unsatisfiable(get, asked):
    """Is a range outside the file or malformed answered 416 with the file's length?"""
    r = get("/gated/talk.mp4", Range=asked)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("asked", ["bytes=0-1,5-9", "items=0-5"])
def test_range_ignored(get, asked):
    """Are several ranges, or another unit, answered with the whole file (RFC 9110 lets a
    server ignore Range; Werkzeug would answer 416)?"""
    r = get("/gated/talk.mp4", Range=asked)
    assert r.status_code == 200 and r.data == DATA


def test_cache_control(get):
    """Is a gated file private and revalidated, varying on the credentials, and a public
    one cacheable for an hour?"""
    gated = get("/gated/talk.mp4")
    assert gated.headers["Cache-Control"] == "no-cache, private"
    assert gated.headers["Vary"] == "Cookie, Authorization"
    assert "Expires" not in gated.headers
    public = get("/public/talk.mp4")
    assert public.headers["Cache-Control"] == "public, max-age=3600"
    assert "Vary" not in public.headers


@pytest.mark.parametrize(
    ("name", "disposition", "mimetype"),
    [
        ("notes.pdf", "inline", "application/pdf"),
        ("cover.webp", "inline", "image/webp"),
        ("song.mp3", "inline", "audio/mpeg"),
        ("song.m4a", "inline", "audio/mp4"),
        ("clip.webm", "inline", "video/webm"),
        ("drawing.svg", "attachment", "image/svg+xml; charset=utf-8"),
        ("book.epub", "attachment", "application/epub+zip"),
        ("bundle.zip", "attachment", "application/zip"),
        ("src.tar.gz", "attachment", "application/gzip"),
        ("page.html", "attachment", "text/html; charset=utf-8"),
        ("data.weird", "attachment", "application/octet-stream"),
    ],
)
def test_types_and_disposition(root, get, name, disposition, mimetype):
    """Does media a browser shows open inline, with the right type, and the rest download?"""
    (root / name).write_bytes(b"x")
    r = get(f"/gated/{name}")
    assert r.headers["Content-Type"] == mimetype
    assert r.headers["Content-Disposition"] == f"{disposition}; filename={name}"
    assert "Content-Encoding" not in r.headers


def test_types_without_system_table(monkeypatch):
    """Are the media types right even where /etc/mime.types is missing?"""
    import mimetypes

    monkeypatch.setattr(mimetypes, "guess_type", lambda *a, **k: (None, None))
    expected = {
        "a.mp4": "video/mp4",
        "a.M4A": "audio/mp4",
        "a.epub": "application/epub+zip",
        "a.bin": "application/octet-stream",
    }
    for name, mimetype in expected.items():
        assert content_type(name) == mimetype


def test_non_ascii_name(root, get):
    """Is a non-ASCII name sent as an ASCII fallback plus the UTF-8 filename*?"""
    (root / "Café ünïcode.pdf").write_bytes(b"%PDF")
    r = get("/gated/" + quote("Café ünïcode.pdf"))
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == (
        "inline; filename=\"Cafe unicode.pdf\"; filename*=UTF-8''Caf%C3%A9%20%C3%BCn%C3%AFcode.pdf"
    )
    (root / "Résumé.zip").write_bytes(b"PK")
    r = get("/gated/" + quote("Résumé.zip"))
    assert r.headers["Content-Disposition"].startswith("attachment; filename=Resume.zip;")


def test_download_name(root):
    """Does a given download name replace the file's own in Content-Disposition only?"""
    app = make_app(root)
    app.add_url_rule(
        "/named",
        "named",
        lambda: send_asset(root / "talk.mp4", root, gated=True, download_name="Talk 1.mp4"),
    )
    r = app.test_client().get("/named")
    assert r.headers["Content-Disposition"] == 'inline; filename="Talk 1.mp4"'
    assert r.headers["Content-Type"] == "video/mp4"


def test_refused(tmp_path, root, get):
    """Are files outside the folder (through symlinks too), folders, hidden files and
    Markdown sources 404?"""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(b"secret")
    (root / "link.pdf").symlink_to(outside / "secret.pdf")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "loop.pdf").symlink_to(root / "loop.pdf")
    (root / ".env").write_text("KEY=1")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "a.pdf").write_bytes(b"a")
    (root / "page.md").write_text("# page")
    (root / "PAGE.MD").write_text("# page")
    (root / "folder").mkdir()
    for name in [
        "link.pdf", "linkdir/secret.pdf", "linkdir", "loop.pdf", ".env", ".hidden/a.pdf",
        "page.md", "PAGE.MD", "folder", "missing.pdf", "../outside/secret.pdf",
    ]:  # fmt: skip
        assert get(f"/gated/{name}").status_code == 404, name


def test_refused_direct(tmp_path, root):
    """Does send_asset itself refuse a source outside the root and the root itself?"""
    (tmp_path / "secret.pdf").write_bytes(b"secret")
    app = make_app(root)
    app.add_url_rule("/a", "a", lambda: send_asset(tmp_path / "secret.pdf", root, gated=True))
    app.add_url_rule("/b", "b", lambda: send_asset(root, root, gated=True))
    client = app.test_client()
    assert client.get("/a").status_code == 404
    assert client.get("/b").status_code == 404


def test_symlink_inside_root(root, get):
    """Is a symlink to a file inside the folder served, under the link's name?"""
    (root / "sub").mkdir()
    (root / "sub" / "real.pdf").write_bytes(b"%PDF-1")
    (root / "alias.pdf").symlink_to(root / "sub" / "real.pdf")
    r = get("/gated/alias.pdf")
    assert r.status_code == 200 and r.data == b"%PDF-1"
    assert r.headers["Content-Disposition"] == "inline; filename=alias.pdf"


def test_x_accel_redirect(root):
    """Does nginx mode send headers only, pointing at the file's encoded path under the
    prefix, leaving validators, conditionals and Range to nginx?"""
    folder = root / "a dir"
    folder.mkdir()
    for name in ["100% sure?.pdf", "tag#1 & co.mp4", "Café.zip"]:
        (folder / name).write_bytes(DATA)
    client = make_app(root, CONTENT_SENDFILE="x-accel-redirect").test_client()
    expected = {
        "100% sure?.pdf": "/_tollgate_protected/a%20dir/100%25%20sure%3F.pdf",
        "tag#1 & co.mp4": "/_tollgate_protected/a%20dir/tag%231%20%26%20co.mp4",
        "Café.zip": "/_tollgate_protected/a%20dir/Caf%C3%A9.zip",
    }
    for name, redirect in expected.items():
        r = client.get("/gated/" + quote(f"a dir/{name}"), headers={"Range": "bytes=0-9"})
        assert r.status_code == 200 and r.data == b""
        assert r.headers["X-Accel-Redirect"] == redirect
        assert r.headers["Content-Length"] == "0"
        assert r.headers["Cache-Control"] == "no-cache, private"
        assert "ETag" not in r.headers and "X-Sendfile" not in r.headers
    pdf = client.get("/public/" + quote("a dir/100% sure?.pdf"))
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("inline;")
    assert pdf.headers["Cache-Control"] == "public, max-age=3600"


def test_x_accel_prefix(root):
    """Is CONTENT_ACCEL_PREFIX used as given?"""
    client = make_app(
        root, CONTENT_SENDFILE="x-accel-redirect", CONTENT_ACCEL_PREFIX="/internal/files/"
    ).test_client()
    assert client.get("/gated/talk.mp4").headers["X-Accel-Redirect"] == "/internal/files/talk.mp4"


def test_x_sendfile(root):
    """Does Apache/Lighttpd mode send the absolute path, answer 304 itself and leave
    Range to the server (whole-file headers, no 206 without a body)?"""
    (root / "Café.pdf").write_bytes(DATA)
    client = make_app(root, CONTENT_SENDFILE="x-sendfile").test_client()
    r = client.get("/gated/" + quote("Café.pdf"), headers={"Range": "bytes=0-9"})
    assert r.status_code == 200 and r.data == b""
    # The path's UTF-8 bytes, carried as WSGI's Latin-1 string.
    real = str((root / "Café.pdf").resolve())
    assert r.headers["X-Sendfile"] == os.fsencode(real).decode("latin-1")
    assert r.headers["Cache-Control"] == "no-cache, private"
    again = client.get("/gated/" + quote("Café.pdf"), headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and "X-Sendfile" not in again.headers


def test_unknown_mode(root):
    """Is a misspelt CONTENT_SENDFILE an error rather than a silent stream?"""
    app = make_app(root, CONTENT_SENDFILE="nginx")
    app.testing = True
    with pytest.raises(ValueError, match="CONTENT_SENDFILE"):
        app.test_client().get("/gated/talk.mp4")


def test_head(root):
    """Does HEAD give the headers of GET without a body?"""
    client = make_app(root).test_client()
    head = client.head("/gated/talk.mp4")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(DATA))
    assert head.headers["Content-Type"] == "video/mp4"

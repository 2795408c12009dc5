"""Protected downloads handed to a real nginx with X-Accel-Redirect: what nginx keeps of
the app's headers, Range and conditionals answered by nginx, the internal location closed
to the outside. Skipped when nginx is not installed, unless REQUIRE_NGINX=1."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from werkzeug.http import parse_options_header

from tests.servers import serve, started

from .test_files import make_app

PREFIX = "/_tollgate_protected/"
NAMES = ["talk.mp4", "a dir/Café ünï.pdf", "100% sure? #1.zip"]


def nginx_conf(tmp: Path, port: int, upstream: str, root: Path) -> str:
    """The documented snippet (docs/content-files.md) in a throwaway server: every path
    nginx writes is under `tmp`."""
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
user {getpass.getuser()};  # ignored unless started as root (then the workers read tmp)
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
        }}
        location {PREFIX} {{
            internal;
            alias {root}/;
            add_header X-Content-Type-Options nosniff always;
            add_header Vary "Cookie, Authorization" always;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A base URL of nginx in front of a bare app serving the content folder it yields."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail("nginx is not installed and REQUIRE_NGINX=1")
        pytest.skip("nginx is not installed")
    root = tmp_path / "content"
    (root / "a dir").mkdir(parents=True)
    for name in NAMES:
        (root / name).write_bytes(BODY)
    (root / "page.md").write_text("# a page")
    conf = tmp_path / "nginx.conf"
    app = make_app(root, CONTENT_SENDFILE="x-accel-redirect")
    with serve(app) as upstream:
        port = free_port()
        conf.write_text(nginx_conf(tmp_path, port, upstream, root))
        directives = f"daemon off; master_process on; pid {tmp_path / 'nginx.pid'};"
        args = [binary, "-p", str(tmp_path), "-e", "stderr", "-c", str(conf), "-g", directives]
        with started(args) as process:
            base = f"http://127.0.0.1:{port}"
            process.wait_for_http(base + "/public/talk.mp4")
            yield base, root


BODY = os.urandom(3 * 1024 * 1024 + 17)


def url(base: str, kind: str, name: str) -> str:
    return f"{base}/{kind}/{quote(name)}"


@pytest.mark.parametrize("name", NAMES)
def test_whole_file(nginx, name):
    """Does nginx send the whole file, with the app's type, disposition and private
    caching, and nosniff and Vary from its location?"""
    base, _ = nginx
    r = requests.get(url(base, "gated", name), timeout=30)
    assert r.status_code == 200
    assert r.content == BODY
    assert "X-Accel-Redirect" not in r.headers
    assert r.headers["Cache-Control"] == "no-cache, private"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Vary"] == "Cookie, Authorization"
    assert r.headers["Accept-Ranges"] == "bytes"
    kind = {"talk.mp4": "video/mp4", "a dir/Café ünï.pdf": "application/pdf"}
    assert r.headers["Content-Type"] == kind.get(name, "application/zip")
    disposition, params = parse_options_header(r.headers["Content-Disposition"])
    assert disposition == ("attachment" if name.endswith(".zip") else "inline")
    assert params["filename"] == name.rsplit("/", 1)[-1]  # from filename*= when not ASCII


def test_range(nginx):
    """Does nginx answer Range on the file: 206 for one range, suffix, 416 beyond it?"""
    base, _ = nginx
    target = url(base, "gated", "a dir/Café ünï.pdf")
    r = requests.get(target, headers={"Range": "bytes=0-99"}, timeout=30)
    assert r.status_code == 206 and r.content == BODY[:100]
    assert r.headers["Content-Range"] == f"bytes 0-99/{len(BODY)}"
    assert r.headers["Cache-Control"] == "no-cache, private"
    r = requests.get(target, headers={"Range": "bytes=-1024"}, timeout=30)
    assert r.status_code == 206 and r.content == BODY[-1024:]
    r = requests.get(target, headers={"Range": f"bytes={len(BODY)}-"}, timeout=30)
    assert r.status_code == 416


def test_conditional(nginx):
    """Does nginx answer If-None-Match and If-Modified-Since from its own validators?"""
    base, _ = nginx
    target = url(base, "gated", "talk.mp4")
    first = requests.get(target, timeout=30)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = requests.get(target, headers={"If-None-Match": etag}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    since = requests.get(target, headers={"If-Modified-Since": modified}, timeout=30)
    assert since.status_code == 304


def test_public(nginx):
    """Does a public file keep the app's public caching and Expires through nginx?"""
    base, _ = nginx
    r = requests.get(url(base, "public", "talk.mp4"), timeout=30)
    assert r.status_code == 200 and r.content == BODY
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert "Expires" in r.headers


def test_internal_location_closed(nginx):
    """Is the internal location 404 to a request from outside, and a refused file 404?"""
    base, _ = nginx
    for path in [f"{PREFIX}talk.mp4", f"{PREFIX}{quote('a dir/Café ünï.pdf')}", f"{PREFIX}"]:
        assert requests.get(base + path, timeout=30).status_code == 404, path
    assert requests.get(url(base, "gated", "page.md"), timeout=30).status_code == 404

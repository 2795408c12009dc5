"""Real nginx and Caddy on loopback, each running the configuration shipped in
docs/proxies/ with only its addresses changed, in front of Tollgate and a site.

The shipped files name Tollgate 127.0.0.1:8000, the site 127.0.0.1:8080 and listen on
port 80 (nginx) or HTTPS (Caddy); here those become the test's ports, nothing else. A
client reaches the example.com hosts through the proxy as an HTTP proxy (absolute-form
requests: `GET http://docs.example.com/x`), so its cookies follow the browser's
domain rules and redirects between hosts work as they would in a browser.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from flask import Flask, request

from tests.servers import BOUND, ROOT, Started, started

SHIPPED = ROOT / "docs" / "proxies"
TOLLGATE, SITE = "127.0.0.1:8000", "127.0.0.1:8080"
IDENTITY = ("X-Tollgate-User", "X-Tollgate-Email", "X-Tollgate-Roles")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary(name: str, *extra: str) -> str:
    """The server's executable, or skip (fail with REQUIRE_<NAME>=1, as in CI)."""
    found = shutil.which(name) or next((p for p in extra if os.access(p, os.X_OK)), None)
    if found is None:
        if os.environ.get(f"REQUIRE_{name.upper()}") == "1":
            pytest.fail(f"{name} is not installed and REQUIRE_{name.upper()}=1")
        pytest.skip(f"{name} is not installed")
    return found


def site_app() -> Flask:
    """The owner's existing site: answers every path, and shows which identity headers
    reached it (empty ones count as none: Caddy sets an absent one empty)."""
    app = Flask("site")

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>", methods=["GET", "POST"])
    def page(path: str):
        seen = {h: request.headers.get(h, "") for h in IDENTITY}
        headers = {f"X-Seen-{h[2:]}": v for h, v in seen.items()}
        return f"site page /{path}\n", 200, headers

    return app


HOSTS = ("example.com", "docs.example.com", "members.example.com")


def through(proxy: str) -> dict[str, str]:
    """requests' proxies for the example.com hosts only (the stand-in stays direct)."""
    return {f"http://{host}": proxy for host in HOSTS}


def proxied(proxy: str) -> requests.Session:
    """A browser that reaches every example.com host through `proxy`."""
    http = requests.Session()
    http.proxies = through(proxy)
    http.trust_env = False
    return http


@contextmanager
def nginx(tmp: Path, tollgate: str, site: str) -> Iterator[str]:
    """The shipped nginx.conf inside a throwaway main configuration; yields its proxy URL."""
    exe = binary("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx")
    port = free_port()
    shipped = (SHIPPED / "nginx.conf").read_text()
    assert shipped.count("listen 80;") == 3
    conf = (
        shipped.replace(TOLLGATE, tollgate)
        .replace(SITE, site)
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
    )
    (tmp / "tollgate.conf").write_text(conf)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp / "nginx.conf"
    main.write_text(
        f"""
user {getpass.getuser()};
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}
    include {tmp / "tollgate.conf"};
}}
"""
    )
    directives = f"daemon off; master_process on; pid {tmp / 'nginx.pid'};"
    args = [exe, "-p", str(tmp), "-e", "stderr", "-c", str(main), "-g", directives]
    with started(args) as process:
        url = f"http://127.0.0.1:{port}"
        listening(process, port)
        yield url


def listening(process: Started, port: int, bound: float = BOUND) -> None:
    """Until the server accepts connections on `port` (fails if it ends first)."""
    end = time.monotonic() + bound
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"port {port} never opened:\n{process.text}") from None
        time.sleep(0.05)  # not listening yet: try again


@contextmanager
def caddy(tmp: Path, tollgate: str, site: str) -> Iterator[str]:
    """The shipped Caddyfile over plain HTTP on a test port; yields its proxy URL."""
    exe = binary("caddy", "/usr/bin/caddy")
    port = free_port()
    shipped = (SHIPPED / "Caddyfile").read_text()
    sites = re.findall(r"^([a-z.]+\.com) \{$", shipped, flags=re.M)
    assert sites == ["example.com", "docs.example.com", "members.example.com"]
    conf = shipped.replace(TOLLGATE, tollgate).replace(SITE, site)
    conf = re.sub(r"^([a-z.]+\.com) \{$", rf"http://\1:{port} {{", conf, flags=re.M)
    conf = "{\n\tadmin off\n\tauto_https off\n}\n" + conf
    (tmp / "Caddyfile").write_text(conf)
    env = {**os.environ, "HOME": str(tmp), "XDG_DATA_HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp)}
    args = [exe, "run", "--config", str(tmp / "Caddyfile"), "--adapter", "caddyfile"]
    with started(args, env) as process:
        url = f"http://127.0.0.1:{port}"
        listening(process, port)
        yield url

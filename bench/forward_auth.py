"""Forward auth as a proxy sees it: `GET /gate/check` for a member with access against a
bare Flask route answering 200 with no body, both under gunicorn -w 2 (sync), PostgreSQL
behind the site, wrk with 32 connections, rounds interleaved in the same run.

Then through nginx: a small static file behind `auth_request` to Tollgate's check, against
the same file behind `auth_request` to the bare route: the same nginx (one worker), the
same file, the same gunicorn settings; only the question's answerer differs.

Exits 1 when a median ratio is below its target (TARGET_CHECK, TARGET_NGINX).
Usage: python bench/forward_auth.py [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.gate import log_in, seed_member, wrk
from bench.processing import ROOT, database, free_port, gunicorn, started

TARGET_CHECK = 0.85
TARGET_NGINX = 0.8
#: The question a proxy asks: the member's cookie plus the request it holds (/premium is
#: a content page for the premium role, which the member holds).
ASK = 'wrk.headers["X-Forwarded-Uri"] = "/premium"\nwrk.headers["X-Forwarded-Method"] = "GET"\n'
FILE = b"<!doctype html><title>guide</title>" + b"x" * 4000


@contextlib.contextmanager
def nginx(tollgate: int, bare: int) -> Iterator[tuple[int, int]]:
    """One nginx, two servers on the same static file: (gated by Tollgate, by the bare
    route). The check location is the one docs/proxies/nginx.conf ships."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = Path(tempfile.mkdtemp())
    (tmp / "site").mkdir()
    (tmp / "site" / "premium").write_bytes(FILE)
    ports = free_port(), free_port()
    servers = []
    for port, upstream in zip(ports, (tollgate, bare), strict=True):
        servers.append(f"""
    server {{
        listen 127.0.0.1:{port};
        root {tmp / "site"};
        location / {{ auth_request /_check; }}
        location = /_check {{
            internal;
            proxy_pass http://127.0.0.1:{upstream}{"/gate/check" if upstream == tollgate else "/"};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Uri $request_uri;
            proxy_set_header X-Forwarded-Method $request_method;
        }}
    }}""")
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp / "nginx.conf").write_text(
        f"user {getpass.getuser()};\nworker_processes 1;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n    access_log off;\n{temp}\n{''.join(servers)}\n}}\n"
    )
    directives = f"daemon off; master_process on; pid {tmp / 'nginx.pid'};"
    args = [exe, "-p", str(tmp), "-e", "stderr", "-c", str(tmp / "nginx.conf"), "-g", directives]
    process = subprocess.Popen(args)
    try:
        yield ports
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is needed (Debian: apt-get install {tool}-light / {tool})")
    rounds: list[dict[str, float]] = []
    with database() as url, contextlib.ExitStack() as stack:
        seed_member(url)
        bare = free_port()
        stack.enter_context(started(gunicorn("bench.bare_app:app", bare, 0), {}, bare))
        tollgate = free_port()
        env = {
            "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin",
            "GATEWAY_SQLALCHEMY_DATABASE_URI": url,
            "GATEWAY_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "GATEWAY_INSTANCE_PATH": tempfile.mkdtemp(),
            "GATEWAY_CONTENT_DIR": str(ROOT / "tests" / "site_content"),
            "GATEWAY_SESSION_COOKIE_SECURE": "false",
        }
        stack.enter_context(started(gunicorn("app:app", tollgate, 0), env, tollgate))
        cookie = log_in(tollgate)
        # The same app with the fast forward check off: the trick's gain, in this run.
        slow = free_port()
        off = env | {"GATEWAY_FASTPATH_OFF": '["forward_check"]'}
        stack.enter_context(started(gunicorn("app:app", slow, 0), off, slow))
        slow_cookie = log_in(slow)
        gated, plain = stack.enter_context(nginx(tollgate, bare))
        targets = {
            "bare route": (f"http://127.0.0.1:{bare}/", "", cookie),
            "/gate/check": (f"http://127.0.0.1:{tollgate}/gate/check", ASK, cookie),
            "no fast check": (f"http://127.0.0.1:{slow}/gate/check", ASK, slow_cookie),
            "nginx, bare route": (f"http://127.0.0.1:{plain}/premium", "", cookie),
            "nginx, Tollgate": (f"http://127.0.0.1:{gated}/premium", "", cookie),
        }
        for _ in range(args.rounds):
            rounds.append(
                {label: wrk(u, c, args.seconds, ask) for label, (u, ask, c) in targets.items()}
            )
    pairs = {
        "/gate/check": "bare route",
        "no fast check": "bare route",
        "nginx, Tollgate": "nginx, bare route",
    }
    print("\nForward auth: the check against a bare route, direct and behind nginx")
    print("(gunicorn -w 2 sync, wrk -t2 -c32, PostgreSQL, nginx 1 worker; rounds interleaved)")
    print(f"{'':>20} " + " ".join(f"{f'round {i + 1}':>9}" for i in range(len(rounds))))
    medians = {}
    for label in targets:
        cells = " ".join(f"{r[label]:>9.0f}" for r in rounds)
        line = f"{label:>20} {cells} req/s"
        if label in pairs:
            ratios = [r[label] / r[pairs[label]] for r in rounds]
            medians[label] = statistics.median(ratios)
            line += "  ratio " + " ".join(f"{x:.2f}" for x in ratios)
            line += f"  median {medians[label]:.2f}"
        print(line)
    ok = True
    for label, target in (("/gate/check", TARGET_CHECK), ("nginx, Tollgate", TARGET_NGINX)):
        met = medians[label] >= target
        ok &= met
        print(f"target: {label} >= {target:g}x its bare twin: {'met' if met else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The gate at the door: a member's gated page against a bare Flask route, both served by
gunicorn -w 2 (sync) on this machine, PostgreSQL behind the site, wrk with 32 connections,
in the same run. Also the same page with each fast-path trick a page view uses switched
off (gateway/fastpath/: the member copy, kept pages, the CSRF token and session cookie
caches), to show what each one saves.

All the servers run at once and are measured in turn, round after round, so a burst of
load elsewhere on the machine hits a round's rows alike; the ratios are per round, and
the verdict takes their median.

Exits 1 when the gated page is below TARGET times the bare route.
Usage: python bench/gate.py [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.processing import ROOT, database, free_port, gunicorn, seed, started

TARGET = 0.6
PASSWORD = "bench-password-0123"
#: The member's cookie and the log-in's User-Agent (session protection "strong" ties the
#: session to it: without it every request is logged out and redirected, which is what an
#: earlier version of this benchmark measured); any answer but 200 is counted and fails
#: the run (wrk itself counts only 4xx/5xx).
LUA = """
wrk.headers["Cookie"] = "{cookie}"
wrk.headers["User-Agent"] = "{agent}"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) not_ok = 0 end
function response(status, headers, body) if status ~= 200 then not_ok = not_ok + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("not_ok") end
  io.write(string.format("not 200: %d\\n", total))
end
"""
AGENT = requests.utils.default_user_agent()


def seed_member(url: str) -> None:
    """processing.py's schema and plan, plus an admin and a member granted a month."""
    from gateway import create_app
    from gateway.subscriptions import admin_actions
    from models import Plan, User, db

    seed(url, 0)
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url}, instance_path=tempfile.mkdtemp()
    )
    with app.app_context():
        now = datetime.now(UTC)
        plan = db.session.scalar(db.select(Plan).where(Plan.code == "premium-monthly"))
        admin = User(email="admin@example.com", is_admin=True, created_at=now)
        member = User(email="member@example.com", created_at=now)
        for user in (admin, member):
            user.set_password(PASSWORD, "pbkdf2:sha256:1000")
        db.session.add_all([admin, member])
        db.session.flush()
        admin_actions.grant(admin, member, plan, now + timedelta(days=30), "bench", now)
        db.session.commit()
        db.engine.dispose()


def log_in(port: int) -> str:
    """The member's session cookie, through the real log-in form."""
    browser = requests.Session()
    page = browser.get(f"http://127.0.0.1:{port}/auth/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    r = browser.post(
        f"http://127.0.0.1:{port}/auth/login",
        data={"csrf_token": token.group(1), "email": "member@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert r.ok and browser.get(f"http://127.0.0.1:{port}/premium", timeout=10).status_code == 200
    return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def wrk_get(port: int, path: str, cookie: str, seconds: float) -> float:
    return wrk(f"http://127.0.0.1:{port}{path}", cookie, seconds)


def wrk(url: str, cookie: str, seconds: float, extra: str = "") -> float:
    """Requests per second at `url` with the member's cookie (and `extra` Lua first: more
    headers); any answer but 200 fails the run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(extra + LUA.format(cookie=cookie, agent=AGENT))
    subprocess.run(["wrk", "-t2", "-c32", "-d1s", "-s", f.name, url], capture_output=True)
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds:g}s", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    not_ok = re.search(r"not 200: (\d+)", out)
    if "Non-2xx" in out or not_ok is None or int(not_ok.group(1)):
        raise RuntimeError(f"{url} answered other than 200 under load:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found is not None, out
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=0, help="gunicorn gthread threads (0: sync workers)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    #: The gated page as served, and with each trick a page view uses switched off
    #: (gateway/fastpath/): the difference is that trick's gain, measured in this run.
    variants = {
        "gated page": {},
        "no member copy": {"GATEWAY_GATE_CACHE_SECONDS": "0"},
        "no kept pages": {"GATEWAY_FASTPATH_OFF": '["kept_pages"]'},
        "no CSRF token cache": {"GATEWAY_FASTPATH_OFF": '["csrf_tokens"]'},
        "no session cookie cache": {"GATEWAY_FASTPATH_OFF": '["session_cookie"]'},
    }
    labels = ("bare Flask route", *variants)
    rounds: list[dict[str, float]] = []
    with database() as url, contextlib.ExitStack() as servers:
        seed_member(url)
        bare = free_port()
        servers.enter_context(started(gunicorn("bench.bare_app:app", bare, args.threads), {}, bare))
        targets = [(labels[0], bare, "/", "")]
        for label, extra in variants.items():
            port = free_port()
            env = extra | {
                "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin",
                "GATEWAY_SQLALCHEMY_DATABASE_URI": url,
                "GATEWAY_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                "GATEWAY_INSTANCE_PATH": tempfile.mkdtemp(),
                # /premium is a content page (access: premium), as the tests' is.
                "GATEWAY_CONTENT_DIR": str(ROOT / "tests" / "site_content"),
                "GATEWAY_SESSION_COOKIE_SECURE": "false",
            }
            servers.enter_context(started(gunicorn("app:app", port, args.threads), env, port))
            targets.append((label, port, "/premium", log_in(port)))
        for _ in range(args.rounds):
            rounds.append(
                {
                    label: wrk_get(port, path, cookie, args.seconds)
                    for label, port, path, cookie in targets
                }
            )
    print("\nThe gate: GET /premium as a member vs a bare Flask route")
    workers = f"gthread, {args.threads} threads" if args.threads else "sync"
    print(f"(gunicorn -w 2 {workers}, wrk -t2 -c32, PostgreSQL; same run, rounds interleaved)")
    print(f"{'':>24} " + " ".join(f"{f'round {i + 1}':>14}" for i in range(len(rounds))))
    print(f"{'':>24} " + " ".join(f"{'req/s':>8} {'ratio':>5}" for _ in rounds) + "  median")
    ratios: dict[str, list[float]] = {}
    for label in labels:
        ratios[label] = [r[label] / r[labels[0]] for r in rounds]
        cells = " ".join(f"{r[label]:>8.0f} {r[label] / r[labels[0]]:>5.2f}" for r in rounds)
        print(f"{label:>24} {cells}  {statistics.median(ratios[label]):>6.2f}")
    ratio = statistics.median(ratios[labels[1]])
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"target: gated page >= {TARGET:g}x the bare route (median of rounds): {verdict}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

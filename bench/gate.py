"""The gate at the door: a member's gated page against a bare Flask route, both served by
gunicorn -w 2 (sync) on this machine, PostgreSQL behind the site, wrk with 32 connections,
in the same run. Also the same page with the per-process copy of members turned off
(GATE_CACHE_SECONDS=0: the user row read on every request), to show what the copy saves.

Exits 1 when the gated page is below TARGET times the bare route.
Usage: python bench/gate.py [--seconds S]
"""

from __future__ import annotations

import argparse
import re
import shutil
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
LUA = 'wrk.headers["Cookie"] = "{cookie}"\n'


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
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA.format(cookie=cookie))
    target = f"http://127.0.0.1:{port}{path}"
    subprocess.run(["wrk", "-t2", "-c32", "-d1s", "-s", f.name, target], capture_output=True)
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds:g}s", "-s", f.name, target],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{path} answered errors under load:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found is not None, out
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    rows = []
    with database() as url:
        seed_member(url)
        bare = free_port()
        with started(gunicorn("bench.bare_app:app", bare), {}, bare):
            base = wrk_get(bare, "/", "", args.seconds)
        for label, seconds_cached in (("gated page", "30"), ("gated page, no copy", "0")):
            port = free_port()
            env = {
                "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin",
                "GATEWAY_SQLALCHEMY_DATABASE_URI": url,
                "GATEWAY_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                "GATEWAY_INSTANCE_PATH": tempfile.mkdtemp(),
                "GATEWAY_SESSION_COOKIE_SECURE": "false",
                "GATEWAY_GATE_CACHE_SECONDS": seconds_cached,
            }
            with started(gunicorn("app:app", port), env, port):
                cookie = log_in(port)
                rows.append((label, wrk_get(port, "/premium", cookie, args.seconds)))
    print("\nThe gate: GET /premium as a member vs a bare Flask route")
    print("(gunicorn -w 2 sync, wrk -t2 -c32, PostgreSQL; same run)")
    print(f"{'':>22} {'req/s':>8} {'ratio':>6}")
    print(f"{'bare Flask route':>22} {base:>8.0f} {1:>6.2f}")
    for label, rps in rows:
        print(f"{label:>22} {rps:>8.0f} {rps / base:>6.2f}")
    ratio = rows[0][1] / base
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"target: gated page >= {TARGET:g}x the bare route: {verdict}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

"""A streamed export cut off midway fails visibly: gunicorn answers it chunked, so when
its worker dies (killed, or gunicorn's own worker timeout) the client sees a connection
that ended without HTTP's last chunk: an error, never a clean end of a shorter file."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import sys
from contextlib import closing
from pathlib import Path

import pytest
import requests

from tests import factories
from tests.servers import BOUND, started
from tests.smtp import free_port
from tests.web.test_gate_cache import until

from .helpers import many_subscriptions, process_env

ROWS = 40_000  # about 8 MB of CSV: more than loopback's socket buffers hold
EXPORT = "/admin/subscriptions.csv?view=all"
#: Sessions are bound to the browser (Flask-Login's "strong" protection): one agent for all.
AGENT = "export-test"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class SmallWindow(http.client.HTTPConnection):
    """A client that reads slowly: its socket buffers hold little, so the server is still
    sending when its worker dies, however fast it writes."""

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
        self.sock.settimeout(BOUND)
        self.sock.connect((self.host, self.port))


class SmallWindowAdapter(requests.adapters.HTTPAdapter):
    """The same small receive buffer for requests (urllib3's socket options)."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["socket_options"] = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)]
        super().init_poolmanager(*args, **kwargs)


def log_in(site: str, email: str) -> str:
    """The session cookie of an admin logged in through the real form."""
    with requests.Session() as browser:
        browser.headers["User-Agent"] = AGENT
        page = browser.get(f"{site}/auth/login", timeout=BOUND).text
        token = CSRF.search(page)
        assert token is not None, page
        form = {"csrf_token": token[1], "email": email, "password": factories.PASSWORD}
        r = browser.post(f"{site}/auth/login", data=form, allow_redirects=False, timeout=BOUND)
        assert r.status_code in (302, 303), r.text
        assert "/auth/login" not in r.headers["Location"], r.headers["Location"]
        return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def workers_of(master: int) -> list[int]:
    """The processes gunicorn's master forked (its workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == master:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(
    "worker",
    [
        # The case: a sync worker past gunicorn's timeout (here 6 s) is killed.
        ["-k", "sync", "--timeout", "6"],
        # The documented deployment (threads): the worker is killed from outside.
        ["-k", "gthread", "--threads", "2", "--timeout", "600"],
    ],
    ids=["sync-timeout", "gthread-sigkill"],
)
def test_a_stream_cut_off_midway_is_an_error_for_the_client(
    app, db, clock, admin, make_plan, migrated, worker
):
    """A complete stream reads cleanly; when the worker dies mid-stream the client gets an
    error (http.client's IncompleteRead, requests' ChunkedEncodingError), not a clean EOF?"""
    plan = make_plan("premium-monthly")
    many_subscriptions(plan.id, admin.id, ROWS, clock.now())
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = process_env(migrated, app.instance_path, EXPORT_STREAM_MAX_ROWS=str(ROWS))
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "1", *worker]
    with started([*gunicorn, "-b", f"127.0.0.1:{port}", "app:app"], env) as web:
        web.wait_for_http(f"{site}/healthz")
        cookie = log_in(site, admin.email)

        # A stream that ends: chunked too, and the same client reads it to its end cleanly.
        with closing(SmallWindow("127.0.0.1", port, timeout=BOUND)) as whole:
            asked = {"Cookie": cookie, "User-Agent": AGENT}
            whole.request("GET", "/admin/members.csv", headers=asked)
            done = whole.getresponse()
            assert done.status == 200, done.status
            assert done.getheader("Transfer-Encoding") == "chunked"
            assert done.read().decode().splitlines()[1].split(",")[1] == admin.email

        # Cut off: read the start, stop reading, and the worker dies.
        with closing(SmallWindow("127.0.0.1", port, timeout=BOUND)) as conn:
            conn.request("GET", EXPORT, headers={"Cookie": cookie, "User-Agent": AGENT})
            r = conn.getresponse()
            assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
            assert r.read(4096).startswith(b"id,member,plan")
            (pid,) = workers_of(web.proc.pid)
            if "sync" not in worker:
                os.kill(pid, signal.SIGKILL)
            until(lambda: not alive(pid), BOUND)  # the sync one: gunicorn's timeout kills it
            with closing(r), pytest.raises(http.client.IncompleteRead):
                r.read()  # (closing r too: its file keeps the socket's descriptor open)
        assert "WORKER TIMEOUT" in web.text or "sync" not in worker, web.text

        # requests (urllib3) says the same of a cut-off stream.
        with requests.Session() as slow:
            slow.mount("http://", SmallWindowAdapter())
            with slow.get(
                f"{site}{EXPORT}",
                headers={"Cookie": cookie, "User-Agent": AGENT},
                stream=True,
                timeout=BOUND,
            ) as cut:
                chunks = cut.iter_content(4096)
                next(chunks)
                until(lambda: len(workers_of(web.proc.pid)) == 1, BOUND)  # the new worker
                for pid in workers_of(web.proc.pid):
                    os.kill(pid, signal.SIGKILL)
                with pytest.raises(requests.exceptions.ChunkedEncodingError):
                    for _ in chunks:
                        pass

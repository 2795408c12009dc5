"""The same IPN corpus sent to Tollgate and to django-paypal 2.1, on this machine, in one run.

django-paypal runs in its own virtualenv (bench/django_paypal/.venv, created here with
`python -m venv` + pip from bench/django_paypal/requirements.txt and kept between runs);
Tollgate never imports it. Both are served by gunicorn -w 2 (sync) on PostgreSQL, each with
a throwaway database, and both post back to the same asyncio stand-in
(bench/postback_server.py), which answers VERIFIED after a set delay. django-paypal's
postback URL has no setting: bench/django_paypal/extend_access/postback.py replaces its two
endpoint constants at start-up.

Rows (Tollgate | django-paypal | ratio Tollgate/django-paypal | ahead?):
- intake req/s with wrk -c32 at 0 and 200 ms postback delay (Tollgate with one inbox
  worker running, as deployed; django-paypal verifies inside the request);
- answer latency p50/p99 at 200 ms, under -c32 and over one connection;
- duplicates: N payment IPNs each sent twice, one after the other;
- concurrent duplicates: M payment IPNs each sent K times at once (threads on a barrier).
  Effects per distinct payment: Tollgate, payment facts (and payments rows) once its inbox
  is empty; django-paypal, valid_ipn_received firings recorded by the site's handler
  (and PayPalIPN rows). 1.00 with no payment off is correct.
Measurements start once both gunicorn workers have loaded the app, after a 1 s warm-up
and (Tollgate) once its inbox worker processes; wrk runs with --timeout 30s so queued
answers are measured, not dropped.
Exit status 1 unless Tollgate is ahead on every row (higher req/s, lower latency, exactly
one effect per payment). Everything listens on 127.0.0.1; processes are stopped and the
databases dropped at the end; --limit bounds the whole run.
Usage: python bench/side_by_side.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processing import (  # noqa: E402
    INBOX_PROCESS,
    LOGS,
    WORKER,
    database,
    free_port,
    gateway_env,
    gunicorn,
    seed,
    started,
)
from tests.paypal.ipn_builders import payment  # noqa: E402

DP_DIR = ROOT / "bench" / "django_paypal"
DP_VENV = DP_DIR / ".venv"
DP_BIN = DP_VENV / "bin"
DP_REQUIREMENTS = DP_DIR / "requirements.txt"
TOLLGATE_PATH = "/paypal/ipn"
DP_PATH = "/paypal/"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OPEN = "('pending', 'retry', 'deferred')"
PAID_AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
#: Sends bodies from a corpus file, one a line: thread t starts at line offset + t and steps
#: by the number of threads (wrk ... -- THREADS OFFSET).
LUA = """local made = 0
function setup(thread)
  thread:set("tid", made)
  made = made + 1
end
function init(args)
  bodies = {}
  for line in io.lines("%(corpus)s") do bodies[#bodies + 1] = line end
  step = tonumber(args[1])
  i = tid + tonumber(args[2])
end
function request()
  local body = bodies[(i %% #bodies) + 1]
  i = i + step
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


#: gunicorn opens its port before its workers have imported the app (about 3 s here): each
#: worker leaves a file once its app is loaded, and measurements start after both did.
GUNICORN_READY = """import os
import pathlib


def post_worker_init(worker):
    pathlib.Path(os.environ["BENCH_READY_DIR"], str(worker.pid)).touch()
"""


@contextlib.contextmanager
def served(command: list[str], env: dict[str, str], port: int) -> Iterator[None]:
    """`started`, then wait until both gunicorn workers have loaded the app."""
    ready = Path(tempfile.mkdtemp(dir=LOGS, prefix="ready-"))
    config = LOGS / "gunicorn_ready.py"
    config.write_text(GUNICORN_READY)
    command = [*command[:-1], "-c", str(config), command[-1]]
    with started(command, dict(env, BENCH_READY_DIR=str(ready)), port):
        deadline = time.monotonic() + 60
        while len(list(ready.iterdir())) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn workers did not boot: {command}")
            time.sleep(0.05)
        yield


# ---------------------------------------------------------------- the corpus


def sub_id(i: int) -> str:
    return f"I-BENCH{i:08d}"  # the subscriptions bench.processing.seed() creates


def corpus(prefix: str, first_sub: int, n: int) -> list[tuple[str, bytes]]:
    """N distinct renewal payments (txn_id, body) as PayPal encodes them (windows-1252,
    test_ipn=1), from tests/paypal/ipn_builders.py; one seeded subscription each."""
    return [
        (
            f"{prefix}{i:08d}",
            payment(sub_id(first_sub + i), f"{prefix}{i:08d}", PAID_AT + timedelta(seconds=i)),
        )
        for i in range(n)
    ]


def corpus_file(prefix: str, n: int) -> Path:
    path = LOGS / f"corpus-{prefix}.txt"
    path.write_bytes(b"\n".join(body for _, body in corpus(prefix, 0, n)) + b"\n")
    return path


# ---------------------------------------------------------------- the django-paypal site


def dp_venv() -> str:
    """Create or reuse bench/django_paypal/.venv; return the installed versions."""
    stamp = DP_VENV / ".installed"
    wanted = hashlib.sha256(DP_REQUIREMENTS.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == wanted):
        print(f"installing django-paypal's virtualenv in {DP_VENV} ...", flush=True)
        if not (DP_BIN / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(DP_VENV)], check=True, timeout=120)
        pip = [str(DP_BIN / "python"), "-m", "pip", "--disable-pip-version-check", "install"]
        result = subprocess.run(
            [*pip, "--quiet", "-r", str(DP_REQUIREMENTS)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            sys.exit(f"pip could not install {DP_REQUIREMENTS}:\n{result.stdout}{result.stderr}")
        stamp.write_text(wanted)
    return subprocess.run(
        [
            str(DP_BIN / "python"),
            "-c",
            "import importlib.metadata as m; print(', '.join(p + ' ' + m.version(p) for p in "
            "('django-paypal', 'Django', 'gunicorn', 'psycopg', 'requests')))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def dp_env(url: str, postback_port: int) -> dict[str, str]:
    u = sa.engine.make_url(url)
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="dp_site.settings",
        DP_DB_NAME=u.database or "",
        DP_DB_HOST=u.host or "127.0.0.1",
        DP_DB_PORT=str(u.port or 5432),
        DP_DB_USER=u.username or "postgres",
        DP_DB_PASSWORD=u.password or "",
        DP_POSTBACK_URL=f"http://127.0.0.1:{postback_port}/cgi-bin/webscr",
    )


def dp_migrate(url: str) -> None:
    subprocess.run(
        [str(DP_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=DP_DIR,
        env=dp_env(url, 1),
        check=True,
        timeout=300,
    )


def dp_gunicorn(port: int) -> list[str]:
    """The same command as bench.processing.gunicorn(), from django-paypal's virtualenv."""
    return [
        str(DP_BIN / "gunicorn"),
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--chdir",
        str(DP_DIR),
        "dp_site.wsgi:application",
    ]


# ---------------------------------------------------------------- the two systems


@dataclass
class System:
    name: str
    url: str  # its database
    path: str  # where PayPal posts
    serve: Callable[[int, int], contextlib.AbstractContextManager[None]]  # (site, postback)
    effects: Callable[[list[str]], tuple[Counter[str], Counter[str], str]]
    settle: Callable[[list[str], float], None]  # wait until every copy had its effect
    warm: Callable[[], None]  # after the warm-up: wait until its background work runs


def postback(port: int, delay_ms: int) -> contextlib.AbstractContextManager[object]:
    return started(
        [sys.executable, "bench/postback_server.py", str(port), str(delay_ms)],
        dict(os.environ),
        port,
    )


def tollgate(url: str, workers: int = 1) -> System:
    pb_port = [0]  # the running postback stand-in, for settle()'s own inbox rounds

    def serve(site: int, pb: int) -> contextlib.AbstractContextManager[None]:
        pb_port[0] = pb
        return _tollgate_serve(url, site, pb, workers)

    def effects(txns: list[str]) -> tuple[Counter[str], Counter[str], str]:
        with _engine(url) as conn:
            facts = _per_txn(
                conn,
                "SELECT txn_id, count(*) FROM subscription_facts "
                "WHERE kind = 'payment_completed' AND txn_id = ANY(:t) GROUP BY txn_id",
                txns,
            )
            rows = _per_txn(
                conn,
                "SELECT txn_id, count(*) FROM payments WHERE txn_id = ANY(:t) GROUP BY txn_id",
                txns,
            )
            statuses = conn.execute(
                sa.text(
                    "SELECT status, count(*) FROM notifications WHERE txn_id = ANY(:t) "
                    "GROUP BY status ORDER BY status"
                ),
                {"t": txns},
            ).all()
        stored = ", ".join(f"{n} {s}" for s, n in statuses)
        return facts, rows, f"messages stored: {stored}; payments rows per txn_id"

    def settle(txns: list[str], limit: float) -> None:
        """Wait for the running workers to empty the inbox, then run
        `flask --app app inbox process` until a round handles nothing."""
        deadline = time.monotonic() + limit
        while _open(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        env = gateway_env(url, pb_port[0])
        for _ in range(20):
            out = subprocess.run(
                INBOX_PROCESS, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit
            ).stdout
            if "processed 0 message" in out and not _open(url):
                return
            time.sleep(0.2)

    def warm() -> None:
        """The inbox worker is busy (it boots in a few seconds): measure it as deployed."""
        deadline = time.monotonic() + 60
        while workers and time.monotonic() < deadline:
            with _engine(url) as conn:
                sql = "SELECT count(*) FROM notifications WHERE status <> 'pending'"
                if conn.execute(sa.text(sql)).scalar():
                    return
            time.sleep(0.1)

    return System("Tollgate", url, TOLLGATE_PATH, serve, effects, settle, warm)


@contextlib.contextmanager
def _tollgate_serve(url: str, site: int, pb: int, workers: int) -> Iterator[None]:
    env = gateway_env(url, pb)
    with served(gunicorn("app:app", site), env, site), contextlib.ExitStack() as stack:
        for _ in range(workers):
            stack.enter_context(started(WORKER, env))
        yield


def _open(url: str) -> int:
    """Messages still waiting (the txn_id column is only filled in when one is processed)."""
    with _engine(url) as conn:
        sql = f"SELECT count(*) FROM notifications WHERE status IN {OPEN}"
        return int(conn.execute(sa.text(sql)).scalar() or 0)


def drop_backlog(url: str) -> None:
    """Forget the throughput runs' unprocessed messages (their workers are stopped)."""
    with _engine(url) as conn:
        conn.execute(sa.text(f"DELETE FROM notifications WHERE status IN {OPEN}"))
        conn.commit()


def django_paypal(url: str) -> System:
    @contextlib.contextmanager
    def serve(site: int, pb: int) -> Iterator[None]:
        with served(dp_gunicorn(site), dp_env(url, pb), site):
            yield

    def effects(txns: list[str]) -> tuple[Counter[str], Counter[str], str]:
        with _engine(url) as conn:
            fired = _per_txn(
                conn,
                "SELECT txn_id, count(*) FROM extend_access_accessextension "
                "WHERE txn_id = ANY(:t) GROUP BY txn_id",
                txns,
            )
            rows = _per_txn(
                conn,
                "SELECT txn_id, count(*) FROM paypal_ipn WHERE txn_id = ANY(:t) GROUP BY txn_id",
                txns,
            )
            flags = conn.execute(
                sa.text(
                    "SELECT regexp_replace(flag_info, '\\(.*', ''), count(*) FROM paypal_ipn "
                    "WHERE txn_id = ANY(:t) AND flag GROUP BY 1 ORDER BY 1"
                ),
                {"t": txns},
            ).all()
        flagged = ", ".join(f"{n} '{f.strip()}'" for f, n in flags) or "none"
        return fired, rows, f"flagged: {flagged}; PayPalIPN rows per txn_id"

    def settle(txns: list[str], limit: float) -> None:
        return None  # django-paypal has done everything before it answers

    return System("django-paypal", url, DP_PATH, serve, effects, settle, lambda: None)


@contextlib.contextmanager
def _engine(url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _per_txn(conn: sa.Connection, sql: str, txns: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter({t: 0 for t in txns})
    for txn, n in conn.execute(sa.text(sql), {"t": txns}).all():
        counts[txn] = int(n)
    return counts


# ---------------------------------------------------------------- load and duplicates


@dataclass
class Load:
    rps: float
    p50: float  # ms
    p99: float  # ms
    requests: int
    errors: str  # wrk's socket errors and non-2xx answers, if any


def wrk(system: System, port: int, corpus: Path, seconds: float, connections: int) -> Load:
    """POST the corpus round-robin (--timeout 30 s, so a queued answer is measured rather
    than dropped). First a 1 s warm-up over two connections, from the corpus's second half;
    then the measured run starts with nothing queued in front of it."""
    script = LOGS / f"{corpus.stem}.lua"
    script.write_text(LUA % {"corpus": corpus})
    url = f"http://127.0.0.1:{port}{system.path}"
    lines = sum(1 for _ in corpus.open("rb"))
    opts = ["--timeout", "30s", "-s", str(script), url, "--"]
    subprocess.run(
        ["wrk", "-t2", "-c2", "-d1s", *opts, "2", str(lines // 2)], capture_output=True, timeout=60
    )
    system.warm()
    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    probe.request("GET", system.path)  # answered once what the warm-up left queued is done
    probe.getresponse().read()
    probe.close()
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
        + [*opts, str(threads), "0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        assert m is not None, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    assert rps is not None and done is not None, out
    errors = [line.strip() for line in out.splitlines() if "errors" in line or "Non-2xx" in line]
    return Load(float(rps.group(1)), ms("50%"), ms("99%"), int(done.group(1)), "; ".join(errors))


def post(port: int, path: str, body: bytes, before: threading.Barrier | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.connect()
        if before is not None:
            before.wait()
        conn.request("POST", path, body=body, headers=FORM)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def send_twice(port: int, path: str, messages: list[tuple[str, bytes]]) -> Counter[int]:
    """Each message, then the same bytes again as soon as the first is answered (PayPal
    re-sends when it did not see our answer); four payments at a time."""

    def one(message: tuple[str, bytes]) -> list[int]:
        return [post(port, path, message[1]), post(port, path, message[1])]

    with ThreadPoolExecutor(4) as pool:
        return Counter(s for pair in pool.map(one, messages) for s in pair)


def send_at_once(port: int, path: str, messages: list[tuple[str, bytes]], k: int) -> Counter[int]:
    """K copies of each message, released together by a barrier; one message at a time."""
    statuses: Counter[int] = Counter()
    for _, body in messages:
        barrier = threading.Barrier(k, timeout=30)
        with ThreadPoolExecutor(k) as pool:
            copies = [pool.submit(post, port, path, body, barrier) for _ in range(k)]
            statuses.update(c.result() for c in copies)
    return statuses


@dataclass
class Effects:
    per_payment: float
    off: int  # payments with other than exactly one effect
    detail: str


def duplicates(
    system: System, delay: int, messages: list[tuple[str, bytes]], k: int | None
) -> Effects:
    txns = [t for t, _ in messages]
    pb, site = free_port(), free_port()
    with postback(pb, delay), system.serve(site, pb):
        if k is None:
            statuses = send_twice(site, system.path, messages)
        else:
            statuses = send_at_once(site, system.path, messages, k)
        system.settle(txns, 120.0)
    effects, rows, label = system.effects(txns)
    off = sum(1 for t in txns if effects[t] != 1)
    row_counts = Counter(rows.values())
    answers = ", ".join(f"{n}×{s}" for s, n in sorted(statuses.items()))
    shape = ", ".join(f"{n} with {c}" for c, n in sorted(row_counts.items()))
    dist = ", ".join(f"{n} with {c}" for c, n in sorted(Counter(effects.values()).items()))
    return Effects(
        sum(effects.values()) / len(txns),
        off,
        f"answers {answers}; effects per payment: {dist}; {label}: {shape}",
    )


# ---------------------------------------------------------------- the run


@dataclass
class Row:
    label: str
    tollgate: float
    dp: float
    unit: str
    higher_is_better: bool | None  # None: a correctness row (Tollgate must be exactly right)
    tollgate_off: int = 0
    dp_off: int = 0

    def ahead(self) -> bool:
        if self.higher_is_better is None:
            return self.tollgate_off == 0
        if self.higher_is_better:
            return self.tollgate > self.dp
        return self.tollgate < self.dp

    def cells(self) -> tuple[str, str, str]:
        if self.higher_is_better is None:
            return (
                f"{self.tollgate:.2f} ({self.tollgate_off} off)",
                f"{self.dp:.2f} ({self.dp_off} off)",
                "",
            )
        fmt = "{:,.0f} " if self.unit == "req/s" or self.tollgate >= 100 else "{:,.1f} "
        ratio = self.tollgate / self.dp if self.dp else float("inf")
        return (
            fmt.format(self.tollgate) + self.unit,
            fmt.format(self.dp) + self.unit,
            f"{ratio:.3g}",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter runs")
    parser.add_argument("--seconds", type=float, help="wrk run length (5; quick 3)")
    parser.add_argument(
        "--queued-seconds",
        type=float,
        help="run length at the postback delay under -c32 (15; quick 10): django-paypal's "
        "queue is 32 x delay / 2 workers deep, the run must be several times longer",
    )
    parser.add_argument("--payments", type=int, help="payments sent twice (40; quick 12)")
    parser.add_argument("--concurrent", type=int, help="payments sent K at once (16; quick 6)")
    parser.add_argument("-k", type=int, help="copies sent at once (8; quick 4)")
    parser.add_argument("--delay", type=int, default=200, help="postback delay, ms")
    parser.add_argument("--limit", type=int, default=900, help="max seconds for the whole run")
    args = parser.parse_args()
    q = args.quick
    seconds = args.seconds or (3.0 if q else 5.0)
    queued = args.queued_seconds or (10.0 if q else 15.0)
    n_twice = args.payments or (12 if q else 40)
    n_once = args.concurrent or (6 if q else 16)
    k = args.k or (4 if q else 8)
    flood = 6000 if q else 30000  # distinct payments in each wrk corpus (wraps if exceeded)
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")

    def out_of_time(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"the benchmark ran past --limit {args.limit} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.limit)
    versions = dp_venv()
    print(f"django-paypal side: {versions} (in {DP_VENV})")
    print(f"process logs and corpora: {LOGS}")
    floods = {name: corpus_file(name, flood) for name in ("TA", "TB", "TC")}
    twice = corpus("DS", flood, n_twice)
    at_once = corpus("DC", flood + n_twice, n_once)

    rows: list[Row] = []
    notes: list[str] = []
    with database() as t_url, database() as d_url:
        seed(t_url, flood + n_twice + n_once)
        dp_migrate(d_url)
        systems = (tollgate(t_url), django_paypal(d_url))

        loads: dict[tuple[str, str], Load] = {}
        plan = [
            ("TA", 0, 32, seconds, f"postback 0 ms, wrk -c32, {seconds:g} s"),
            ("TB", args.delay, 32, queued, f"postback {args.delay} ms, wrk -c32, {queued:g} s"),
            (
                "TC",
                args.delay,
                1,
                seconds,
                f"postback {args.delay} ms, one connection, {seconds:g} s",
            ),
        ]
        for prefix, delay, connections, length, what in plan:
            for system in systems:
                print(f"  {system.name}: {what} ...", flush=True)
                pb, site = free_port(), free_port()
                with postback(pb, delay), system.serve(site, pb):
                    load = wrk(system, site, floods[prefix], length, connections)
                loads[(prefix, system.name)] = load
                notes.append(
                    f"{system.name}, {what}: {load.requests} requests"
                    + (f" ({load.errors})" if load.errors else "")
                )
                if system.name == "Tollgate":
                    drop_backlog(t_url)
        t, d = "Tollgate", "django-paypal"
        rows.append(
            Row("intake, postback 0 ms", loads["TA", t].rps, loads["TA", d].rps, "req/s", True)
        )
        rows.append(
            Row(
                f"intake, postback {args.delay} ms",
                loads["TB", t].rps,
                loads["TB", d].rps,
                "req/s",
                True,
            )
        )
        for prefix, how in (("TB", "-c32"), ("TC", "one connection")):
            for pct in ("p50", "p99"):
                rows.append(
                    Row(
                        f"answer {pct} at {args.delay} ms, {how}",
                        getattr(loads[prefix, t], pct),
                        getattr(loads[prefix, d], pct),
                        "ms",
                        False,
                    )
                )

        for label, messages, copies in (
            (f"duplicates ({n_twice} payments × 2, one after the other)", twice, None),
            (f"concurrent duplicates ({n_once} payments × {k} at once)", at_once, k),
        ):
            results = []
            for system in (tollgate(t_url, workers=2), systems[1]):
                print(f"  {system.name}: {label} ...", flush=True)
                result = duplicates(system, args.delay, messages, copies)
                results.append(result)
                notes.append(f"{system.name}, {label}: {result.detail}")
            rows.append(
                Row(
                    f"effects/payment: {label}",
                    results[0].per_payment,
                    results[1].per_payment,
                    "",
                    None,
                    results[0].off,
                    results[1].off,
                )
            )
    signal.alarm(0)

    print("\nThe same IPN corpus, Tollgate vs django-paypal 2.1 (gunicorn -w 2 sync, PostgreSQL)")
    header = ("row", "Tollgate", "django-paypal", "ratio", "ahead")
    cells = [(r.label, *r.cells(), "yes" if r.ahead() else "NO") for r in rows]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(5)]
    for line in [header, tuple("-" * w for w in widths), *cells]:
        print(
            " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print("\nratio = Tollgate / django-paypal; effects: 1.00 with 0 off is correct.")
    print("Tollgate: effect = payment_completed fact (checked once its inbox is empty);")
    print("django-paypal: effect = valid_ipn_received firing acted on by the site's handler.")
    for note in notes:
        print(f"- {note}")
    behind = [r.label for r in rows if not r.ahead()]
    if behind:
        sys.exit(f"\nTollgate is not ahead on: {'; '.join(behind)}")
    print("\nTollgate is ahead on every row.")


if __name__ == "__main__":
    main()

"""Serve WSGI apps on loopback ports for tests that need real HTTP, a listener that
records what it is sent, and processes started by tests (always stopped at the end)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests
from flask import Flask, request
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
#: A generous bound on waiting for a process to start or answer (a busy machine is slow).
BOUND = 60.0
#: Seconds a process gets after SIGTERM before SIGKILL.
STOP_BOUND = 15.0


@contextmanager
def serve(app) -> Iterator[str]:
    """Run `app` on 127.0.0.1 on a free port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=BOUND)


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]


class Listener:
    """A merchant endpoint that records raw requests and answers scripted status codes."""

    url: str  # its base URL, set by the `listener` fixture once it is served

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()
        self.lock = threading.Lock()
        self.app = Flask("listener")
        self.app.add_url_rule("/<path:path>", "hook", self._hook, methods=["POST"])

    def answer(self, *statuses: int) -> None:
        """The next requests get these status codes, then 200 again."""
        self.statuses.extend(statuses)

    def _hook(self, path: str):
        with self.lock:
            self.received.append(Received("/" + path, request.get_data(), dict(request.headers)))
            status = self.statuses.popleft() if self.statuses else 200
        return "", status


def _sigint(action: signal.Handlers) -> Callable[[], None]:
    """A preexec_fn giving the child SIGINT's default action or SIG_IGN, whatever ours is
    (the suite itself may run with SIGINT ignored, as in a background job)."""

    def preexec() -> None:
        signal.signal(signal.SIGINT, action)

    return preexec


class Started:
    """A process a test started; its output (stdout and stderr) is read on a thread, so a
    full pipe never stalls it and each line can be waited for."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        sigint: signal.Handlers | None = None,
        own_group: bool = False,
    ) -> None:
        self.own_group = own_group
        self.proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env={**(env if env is not None else os.environ), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_sigint(sigint) if sigint is not None else None,
            process_group=0 if own_group else None,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_for(self, text: str, bound: float = BOUND) -> str:
        """The next line containing `text`; fails if the process ends first, or after `bound` s."""
        end = time.monotonic() + bound
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {bound:g} s:\n{self.text}")
            if line is None:
                raise AssertionError(f"ended ({self.proc.poll()}) before {text!r}:\n{self.text}")
            if text in line:
                return line

    def wait_for_http(self, url: str, bound: float = BOUND) -> requests.Response:
        """The first answer from `url` (the server is serving); fails if the process ends."""
        end = time.monotonic() + bound
        while True:
            try:
                return requests.get(url, timeout=bound)
            except requests.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise AssertionError(f"{url} never answered:\n{self.text}")
            time.sleep(0.05)  # not listening yet: ask again

    def seconds_to_exit(self, signum: int, *, group: bool = False, bound: float = BOUND) -> float:
        return seconds_to_exit(self.proc, signum, group=group, bound=bound)

    def stop(self) -> int | None:
        """Stop it (see `stop_process`) and read the rest of its output; its exit status."""
        status = stop_process(self.proc, own_group=self.own_group)
        self._reader.join(timeout=STOP_BOUND)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return status


def seconds_to_exit(
    proc: subprocess.Popen[str], signum: int, *, group: bool = False, bound: float = BOUND
) -> float:
    """Send `signum` (to the process group: as a terminal's Ctrl-C does); the seconds from
    the signal until the process ended."""
    sent = time.monotonic()
    if group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    proc.wait(timeout=bound)
    return time.monotonic() - sent


def stop_process(proc: subprocess.Popen[str], *, own_group: bool = False) -> int | None:
    """SIGTERM, wait, then SIGKILL (the whole group too, if it has its own); its status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if own_group:  # what it started and left behind
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode


@contextmanager
def started(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    sigint: signal.Handlers | None = None,
    own_group: bool = False,
) -> Iterator[Started]:
    """Start a process; it is stopped (SIGTERM, then SIGKILL) however the test ends."""
    process = Started(args, env, sigint=sigint, own_group=own_group)
    try:
        yield process
    finally:
        process.stop()

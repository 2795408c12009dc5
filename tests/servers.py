"""Serve WSGI apps on loopback ports for tests that need real HTTP, and a listener that
records what it is sent."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, request
from werkzeug.serving import make_server


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
        thread.join(timeout=5)


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

"""The endpoints' door: who sent a POST, whether it is over a limit, and the answer if so.

One Guard per app (`guard(app)`), built from its settings when the PayPal blueprint is
registered. PayPal's own POSTs are never limited; anyone else's are, by sender and all
together. A refused POST gets 429 (its sender is over its limit) or 503 (all senders
together are), with Retry-After, before its body is read: PayPal re-sends an IPN for
about four days and a webhook 25 times over three, so even a genuine message refused by
mistake arrives later (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response

from .. import metrics
from .limiter import Limiter, Rate, Refusal
from .refusals import RefusalLog
from .sources import Source, Sources

__all__ = ["Guard", "Source", "answer", "close_connection", "guard", "install"]

#: Where the fast intake leaves its judgement for Flask's view (a body over the limit goes
#: on to the view, which must not count the same request twice).
ENVIRON_KEY = "tollgate.intake_source"
CLOSE = ("Connection", "close")
ANSWERS = {
    "source": (429, "429 TOO MANY REQUESTS", b"Too many messages from this address; try later.\n"),
    "everyone": (503, "503 SERVICE UNAVAILABLE", b"Too many messages; try later.\n"),
}


class Guard:
    def __init__(self, app: Flask) -> None:
        config = app.config
        processes = int(config["INTAKE_WEB_PROCESSES"])
        self.app = app
        self.sources = Sources.from_config(config)
        self.limiter = Limiter(
            _rate(config, "INTAKE_SOURCE_PER_MINUTE", "INTAKE_SOURCE_BURST").share(processes),
            _rate(config, "INTAKE_OTHERS_PER_MINUTE", "INTAKE_OTHERS_BURST").share(processes),
        )
        self.refusals = RefusalLog(app)

    def check(self, environ: dict[str, Any], channel: str) -> tuple[Source, Refusal | None]:
        """The sender, and the refusal if it is over a limit (counted as refused)."""
        seen = environ.get(ENVIRON_KEY)
        if seen is not None:
            return seen, None
        source = environ[ENVIRON_KEY] = self.sources.judge(environ)
        if source.exempt:
            return source, None
        refusal = self.limiter.take(source.key)
        if refusal is not None:
            self.refused(source, channel, refusal.limit)
        return source, refusal

    def refused(self, source: Source, channel: str, reason: str) -> None:
        metrics.intake_refused(self.app, channel, reason)
        self.refusals.add(source.key or source.address, reason)


def guard(app: Flask) -> Guard:
    found: Guard = app.extensions["intake_guard"]
    return found


def install(app: Flask) -> None:
    """Build the app's Guard (ValueError names a setting that is not a network)."""
    app.extensions["intake_guard"] = Guard(app)


def answer(
    refusal: Refusal, length: int | None, max_bytes: int
) -> tuple[int, str, bytes, list[tuple[str, str]]]:
    """(status, WSGI status line, body, headers) of a refusal of a POST announcing `length`
    bytes (None: unknown). Its body is never read; the WSGI server reads what is left of
    it before the next request on the connection (gunicorn does), so one of unknown or
    excessive length gets the connection closed instead."""
    code, line, body = ANSWERS[refusal.limit]
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(refusal.retry_after)),
    ]
    if length is None or length > max_bytes:
        headers.append(CLOSE)
    return code, line, body, headers


def close_connection(response: Response) -> Response:
    """For `after_this_request`: the connection closes after this answer (see `answer`)."""
    response.headers["Connection"] = "close"
    return response


def _rate(config: Mapping[str, Any], per_minute: str, burst: str) -> Rate:
    return Rate(float(config[per_minute]), float(config[burst]))

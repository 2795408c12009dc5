"""PayPal's POSTs answered before Flask.

Flask's request handling (routing, the request context, the session, CSRF, before- and
after-request hooks) cost the web worker more than storing the message itself. So a WSGI
middleware takes PayPal's ordinary POSTs to the IPN and webhook endpoints and does what
their views do (`pipeline.endpoints.take`: store the exact bytes, answer an empty 200 or 503).
Whatever it does not recognise as such a POST goes on to Flask and those views: other
methods (405), a body over the limit (413 and its page, the body unread), a chunked body,
a query string. A sender over its limit is answered here, before its body is read
(`gateway/flood/guard.py`: 429 or 503 with Retry-After).

Off switch: `"intake"` in `FASTPATH_OFF` (every POST goes through Flask's views).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

from ..flood import guard as door
from ..pipeline.endpoints import IPN, PREFIX, WEBHOOK, take

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

STATUS = {200: "200 OK", 503: "503 SERVICE UNAVAILABLE"}
#: What Flask sends with an empty string body.
EMPTY = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "0")]


class FastIntake:
    """PayPal's POSTs to the endpoints, answered before Flask (see the module's doc).

    Installed inside ProxyFix (when there is one), so the address stored is the one
    ProxyFix found. An unexpected exception is left to the WSGI server, which logs it and
    answers 500 without a trace, as Flask would in production.
    """

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.endpoints = {PREFIX + e.rule: e for e in (IPN, WEBHOOK)}
        self.door = door.guard(app)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        endpoint = self.endpoints.get(environ.get("PATH_INFO", ""))
        if endpoint is None or environ["REQUEST_METHOD"] != "POST" or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        source, refusal = self.door.check(environ, endpoint.channel)
        length = _content_length(environ)
        if refusal is not None:
            _, line, body, headers = door.answer(refusal, length, endpoint.max_bytes)
            start_response(line, headers)
            return [body]
        if length is None or length > endpoint.max_bytes:
            return self.wsgi_app(environ, start_response)
        raw = environ["wsgi.input"].read(length) if length else b""
        if len(raw) < length:  # the client went away: to Flask, which does as it always did
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():
            status = take(endpoint, raw, environ, source.address)
        start_response(STATUS[status], list(EMPTY))  # and the security headers (outside it)
        return []


def _content_length(environ: dict[str, Any]) -> int | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


def install(app: Flask) -> None:
    app.wsgi_app = FastIntake(app, app.wsgi_app)  # type: ignore[method-assign]

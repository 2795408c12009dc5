"""PayPal's server-to-server endpoints only: store the raw bytes and answer. Nothing else.

These views never call PayPal, not even after answering: verification and applying
happen in inbox workers and the scheduler (`gateway/pipeline/worker.py`).

`take` is what the endpoints do; two callers use it: these views, and the fast path's
`FastIntake` (gateway/fastpath/intake.py), which answers PayPal's ordinary POSTs before
Flask. The answers are the same either way: an empty 200 once the message is committed,
an empty 503 if it cannot be, with the security headers of every response.

Each view is CSRF-exempt on its own (PayPal cannot send our token); member pages live
in `gateway.member` with ordinary CSRF protection.

Before any body is read, the door (`gateway/flood/guard.py`) judges the sender: a sender
outside PayPal's ranges over its limit gets 429 (or 503 when all such senders together
are), with Retry-After; a body announced over the endpoint's limit gets 413 unread, one
without a length is read no further than the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, NoReturn

from flask import Blueprint, abort, after_this_request, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import EnvironHeaders

from ..billing.formats.webhook_events import event_id
from ..billing.rules.statuses import Channel
from ..clock import now
from ..extensions import csrf
from ..flood import guard as door
from . import intake

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

PREFIX = "/paypal"
bp = Blueprint("paypal", __name__, url_prefix=PREFIX)
MAX_IPN_BYTES = 64 * 1024
#: PayPal's webhook events carry the whole resource; a subscription is a few KB.
MAX_WEBHOOK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Endpoint:
    channel: Channel
    rule: str
    max_bytes: int
    too_large: str
    #: What the log calls one message.
    what: str
    #: The sender's own id for the message, read from the bytes.
    event_id: Callable[[bytes], str] | None = None


IPN = Endpoint(Channel.IPN, "/ipn", MAX_IPN_BYTES, "An IPN is never this large.", "an IPN")
WEBHOOK = Endpoint(
    Channel.WEBHOOK,
    "/webhook",
    MAX_WEBHOOK_BYTES,
    "A PayPal webhook event is never this large.",
    "a webhook",
    event_id,
)


def take(endpoint: Endpoint, raw: bytes, environ: WSGIEnvironment, sender: str | None) -> int:
    """Store the exact bytes, the headers (the webhook signature covers them), the sender's
    address as the door judged it and the time; 200 once committed, 503 (logged) if they
    cannot be, so PayPal re-sends. Verification, de-duplication and applying happen in the
    inbox worker."""
    sender_id = endpoint.event_id(raw) if endpoint.event_id else None
    try:
        intake.receive(
            endpoint.channel,
            raw,
            {name: value for name, value in EnvironHeaders(environ)},  # dict(request.headers)
            sender,
            now(),
            event_id=sender_id or None,
        )
    except SQLAlchemyError:
        current_app.logger.exception("could not store %s; PayPal will re-send it", endpoint.what)
        return 503
    return 200


@bp.route(IPN.rule, methods=["POST"])
@csrf.exempt
def ipn() -> ResponseReturnValue:
    return _view(IPN)


@bp.route(WEBHOOK.rule, methods=["POST"])
@csrf.exempt
def webhook() -> ResponseReturnValue:
    return _view(WEBHOOK)


def _view(endpoint: Endpoint) -> ResponseReturnValue:
    guard = door.guard(current_app._get_current_object())  # type: ignore[attr-defined]
    source, refusal = guard.check(request.environ, endpoint.channel)
    if refusal is not None:
        code, _, body, headers = door.answer(refusal, request.content_length, endpoint.max_bytes)
        return body, code, headers
    length = request.content_length
    if length is not None and length > endpoint.max_bytes:  # refused unread
        _too_large(guard, source, endpoint)
    if length is None:  # chunked: read no further than one byte past the limit
        raw = _read_at_most(request.stream, endpoint.max_bytes + 1)
    else:
        raw = request.get_data(cache=False)  # before anything parses the stream
    if len(raw) > endpoint.max_bytes:
        _too_large(guard, source, endpoint)
    return "", take(endpoint, raw, request.environ, source.address)


def _too_large(guard: door.Guard, source: door.Source, endpoint: Endpoint) -> NoReturn:
    guard.refused(source, endpoint.channel, "too_large")
    after_this_request(door.close_connection)  # the rest of the body stays unread
    abort(413, description=endpoint.too_large)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    chunks, left = [], limit
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)

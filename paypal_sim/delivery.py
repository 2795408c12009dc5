"""Outgoing IPNs and webhooks: PayPal's retry schedules, injected faults, and a log.

Time is the stand-in's clock, so tests compress PayPal's days of retries by advancing it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

import requests

from .clock import SimClock

IPN_GIVE_UP = timedelta(days=4)  # PayPal stops re-sending IPNs after about 4 days
IPN_MAX_INTERVAL = timedelta(hours=24)
WEBHOOK_GIVE_UP = timedelta(days=3)  # webhooks: up to 25 tries over 3 days
WEBHOOK_MAX_ATTEMPTS = 25
WEBHOOK_MAX_INTERVAL = timedelta(hours=5)  # 25 tries then span just under 3 days

DELIVERY_FAULTS = {"drop", "duplicate", "delay", "reorder", "concurrent", "ipn_drop"}
# A webhook that is sent but would not verify; the outbox asks the sender to forge it.
WEBHOOK_FORGERIES = {
    "webhook_bad_signature",
    "webhook_wrong_webhook_id",
    "webhook_tampered",
    "webhook_foreign_cert",
}
WEBHOOK_FAULTS = {"webhook_drop"} | WEBHOOK_FORGERIES
POSTBACK_FAULTS = {"postback_html", "postback_hang", "postback_invalid"}
FAULTS = DELIVERY_FAULTS | WEBHOOK_FAULTS | POSTBACK_FAULTS
DROPS = {"drop", "ipn_drop", "webhook_drop"}

# Given a forgery's name, the webhook's (body, headers) as that forgery sends them.
Forge = Callable[[str], tuple[bytes, dict[str, str]]]


def retry_interval(kind: str, failures: int) -> timedelta:
    """Wait after the n-th failed attempt: 10 s, 20 s, 40 s ... doubling to a cap."""
    cap = IPN_MAX_INTERVAL if kind == "ipn" else WEBHOOK_MAX_INTERVAL
    return min(timedelta(seconds=10 * 2 ** (failures - 1)), cap)


@dataclass
class Message:
    id: int
    kind: str  # "ipn" | "webhook"
    label: str  # txn_type / payment_status or event_type
    url: str
    body: bytes
    headers: dict[str, str]
    created: datetime
    next_attempt: datetime
    seq: float
    attempts: int = 0
    state: str = "queued"  # queued | delivered | failed | dropped | held
    concurrent: bool = False
    fault: str = ""  # the injected fault this message carries, if any


@dataclass
class Attempt:
    message_id: int
    kind: str
    label: str
    url: str
    number: int
    at: datetime
    status: int | None
    error: str = ""
    note: str = ""
    fault: str = ""


@dataclass
class Fault:
    kind: str
    seconds: float = 0.0

    def fits(self, kind: str) -> bool:
        """ipn_* and webhook_* faults wait for a message of their kind; others take the next."""
        prefix = self.kind.split("_", 1)[0]
        return prefix not in ("ipn", "webhook") or prefix == kind


class Outbox:
    """Queue, send, retry and log every message the stand-in emits."""

    def __init__(
        self, clock: SimClock, timeout: float = 10.0, session: requests.Session | None = None
    ) -> None:
        self.clock = clock
        self.timeout = timeout
        self.http = session or requests.Session()
        self.messages: list[Message] = []
        self.log: list[Attempt] = []
        self.sent_ipn_bodies: set[bytes] = set()
        self.faults: deque[Fault] = deque()
        self.postback_faults: deque[Fault] = deque()
        self._held: Message | None = None
        self._ids = count(1)
        self._lock = threading.RLock()
        self._sending = threading.Lock()

    # -- faults --------------------------------------------------------------
    def add_fault(self, kind: str, count_: int = 1, seconds: float = 0.0) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        queue = self.postback_faults if kind in POSTBACK_FAULTS else self.faults
        with self._lock:
            queue.extend(Fault(kind, seconds) for _ in range(count_))

    def take_postback_fault(self) -> Fault | None:
        with self._lock:
            return self.postback_faults.popleft() if self.postback_faults else None

    def take_event_fault(self) -> Fault | None:
        """The webhook_* fault a webhook would take next, if that is what it would take.

        It is the event's: the caller gives it to every registered webhook's copy.
        """
        with self._lock:
            for fault in self.faults:
                if fault.fits("webhook"):
                    if fault.kind not in WEBHOOK_FAULTS:
                        return None  # an older, general fault comes first
                    self.faults.remove(fault)
                    return fault
            return None

    def _take_fault(self, kind: str, forgeable: bool) -> Fault | None:
        """The first queued fault that applies to this message (lock held)."""
        for fault in self.faults:
            if fault.fits(kind) and (forgeable or fault.kind not in WEBHOOK_FORGERIES):
                self.faults.remove(fault)
                return fault
        return None

    # -- queueing ------------------------------------------------------------
    def enqueue(
        self,
        kind: str,
        label: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        forge: Forge | None = None,
        fault: Fault | None = None,
    ) -> Message | None:
        """Queue a message; `fault` is one already taken for it, else the next that fits."""
        if not url:
            return None
        now = self.clock.now()
        with self._lock:
            if fault is None:
                fault = self._take_fault(kind, forge is not None)
            if fault is not None and forge is not None and fault.kind in WEBHOOK_FORGERIES:
                body, headers = forge(fault.kind)
            msg_id = next(self._ids)
            msg = Message(msg_id, kind, label, url, body, headers, now, now, float(msg_id))
            msg.fault = fault.kind if fault else ""
            if kind == "ipn":
                self.sent_ipn_bodies.add(body)
            self.messages.append(msg)
            if self._held is not None:  # a reorder fault: the held one goes after this
                self._held.seq, self._held.state = msg.seq + 0.5, "queued"
                self._held.next_attempt = now
                self._held = None
            if fault is None:
                return msg
            if fault.kind in DROPS:
                msg.state = "dropped"
                self._record(msg, None, note=f"dropped by fault {fault.kind}: never sent")
            elif fault.kind == "duplicate":
                twin = Message(
                    next(self._ids), kind, label, url, body, headers, now, now, msg.seq + 0.25
                )
                twin.fault = fault.kind
                self.messages.append(twin)
            elif fault.kind == "delay":
                msg.next_attempt = now + timedelta(seconds=fault.seconds)
            elif fault.kind == "reorder":
                msg.state, self._held = "held", msg
            elif fault.kind == "concurrent":
                msg.concurrent = True
            return msg

    # -- sending -------------------------------------------------------------
    def due(self) -> list[Message]:
        now = self.clock.now()
        with self._lock:
            return sorted(
                (m for m in self.messages if m.state == "queued" and m.next_attempt <= now),
                key=lambda m: (m.next_attempt, m.seq),
            )

    def run_due(self) -> int:
        """Send every message that is due, in order; returns how many attempts were made."""
        made = 0
        with self._sending:
            for msg in self.due():
                self._attempt(msg)
                made += 1
        return made

    def release_held(self) -> None:
        """A reordered message with nothing to swap with is sent after all."""
        with self._lock:
            if self._held is not None:
                self._held.state, self._held = "queued", None

    def _attempt(self, msg: Message) -> None:
        msg.attempts += 1
        if msg.concurrent:
            statuses = self._send_concurrently(msg)
            status = statuses[0]
            note = f"sent twice at once: {statuses}"
            msg.concurrent = False
        else:
            status, error = self._send(msg)
            note = error
        ok = status is not None and (status == 200 if msg.kind == "ipn" else 200 <= status < 300)
        with self._lock:
            self._record(msg, status, error=note if status is None else "", note=note)
            if ok:
                msg.state = "delivered"
                return
            give_up = IPN_GIVE_UP if msg.kind == "ipn" else WEBHOOK_GIVE_UP
            wait = retry_interval(msg.kind, msg.attempts)
            if msg.next_attempt + wait - msg.created > give_up or (
                msg.kind == "webhook" and msg.attempts >= WEBHOOK_MAX_ATTEMPTS
            ):
                msg.state = "failed"
            else:
                msg.next_attempt = msg.next_attempt + wait

    def _send(self, msg: Message) -> tuple[int | None, str]:
        try:
            response = self.http.post(
                msg.url,
                data=msg.body,
                headers=msg.headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
            return response.status_code, ""
        except requests.RequestException as e:
            return None, f"{type(e).__name__}: {e}"[:300]

    def _send_concurrently(self, msg: Message) -> list[int | None]:
        barrier = threading.Barrier(2)
        results: list[int | None] = [None, None]

        def worker(i: int) -> None:
            barrier.wait()
            results[i] = self._send(msg)[0]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def _record(self, msg: Message, status: int | None, error: str = "", note: str = "") -> None:
        self.log.append(
            Attempt(
                msg.id,
                msg.kind,
                msg.label,
                msg.url,
                msg.attempts,
                self.clock.now(),
                status,
                error,
                note,
                msg.fault,
            )
        )


class DeliveryThread(threading.Thread):
    """For the demo: deliver whatever is due a few times a second, until stopped."""

    def __init__(self, outbox: Outbox, tick: Callable[[], None], interval: float = 0.25):
        super().__init__(name="paypal-sim-delivery", daemon=True)
        self.outbox, self.tick, self.interval = outbox, tick, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.tick()
                self.outbox.run_due()
            except Exception:  # keep delivering; the log shows failures per attempt
                time.sleep(self.interval)

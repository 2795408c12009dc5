"""The forged flood's HTTP client (bench/forged_flood.py): raw HTTP/1.1 keep-alive over
asyncio, so that one process sends thousands of POSTs a second, each naming its sender
in X-Forwarded-For as our proxy would."""

from __future__ import annotations

import asyncio
import itertools
import time

from bench.backlogs import RENEWED_AT, payment, renewal_ref, txn

FORGER = "203.0.113.9"
PAYPAL = "173.0.81.140"
MARK = "forged=1"
CONNECTIONS = 32
#: A genuine message every this many seconds while the flood lasts.
GENUINE_EVERY = 0.05


def request(port: int, body: bytes, sender: str) -> bytes:
    return (
        f"POST /paypal/ipn HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Forwarded-For: {sender}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server keeps the connection open) of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"connection" and value.strip().lower() == b"close":
            keep = False
    await reader.readexactly(length)
    return status, keep


async def exchange(port: int, raw: bytes, conn: list) -> int:
    """Send one request on the connection held in `conn` (opened again when closed)."""
    for _ in range(3):
        if not conn:
            conn[:] = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = conn
        try:
            writer.write(raw)
            status, keep = await answer(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            conn.clear()
            continue
        if not keep:
            writer.close()
            conn.clear()
        return status
    raise RuntimeError("the site keeps closing the connection")


async def forge(port: int, total: int, deadline: float, codes: dict[int, int], sender: str) -> None:
    counter = itertools.count()
    raw = request(
        port, payment(renewal_ref(0), txn("FORGED", 0), RENEWED_AT) + b"&" + MARK.encode(), sender
    )

    async def one_connection() -> None:
        conn: list = []
        while next(counter) < total and time.monotonic() < deadline:
            status = await exchange(port, raw, conn)
            codes[status] = codes.get(status, 0) + 1
        if conn:
            conn[1].close()

    await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))


async def genuine(
    port: int, until: asyncio.Event, sent: list[int], refused: list[int], first: int
) -> None:
    """Renewals of seeded subscriptions from number `first` on, one at a time; a refused
    one is sent again (as PayPal would), and counted."""
    conn: list = []
    for i in itertools.count(first):
        if until.is_set():
            break
        raw = request(port, payment(renewal_ref(i), txn("GENUINE", i), RENEWED_AT), PAYPAL)
        while (status := await exchange(port, raw, conn)) != 200:
            refused.append(status)
        sent.append(i)
        await asyncio.sleep(GENUINE_EVERY)
    if conn:
        conn[1].close()


async def flood(
    port: int, total: int, seconds: float, first: int, sender: str = FORGER
) -> tuple[dict[int, int], int, list, float]:
    """Genuine messages while `total` forged ones are sent (at most `seconds`), or for
    `seconds` when `total` is 0 (the baseline)."""
    codes: dict[int, int] = {}
    sent: list[int] = []
    refused: list[int] = []
    done = asyncio.Event()
    began = time.monotonic()
    steady = asyncio.create_task(genuine(port, done, sent, refused, first))
    if total:
        await forge(port, total, began + seconds, codes, sender)
    else:
        await asyncio.sleep(seconds)
    elapsed = time.monotonic() - began
    done.set()
    await steady
    return codes, len(sent), refused, elapsed

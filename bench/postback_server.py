"""A PayPal postback stand-in for load tests: answers VERIFIED after a fixed delay (INVALID
for a message that contains INVALID_MARK, when one is given: the forged ones).

asyncio, HTTP/1.1 keep-alive, one process: thousands of postbacks can wait at once for
almost no CPU, so the benchmark measures the gateway, not this server.
Usage: python bench/postback_server.py PORT DELAY_MS [INVALID_MARK]
"""

from __future__ import annotations

import asyncio
import sys

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nVERIFIED"
INVALID = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nINVALID"


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, mark: bytes | None
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if delay:
                await asyncio.sleep(delay)
            writer.write(INVALID if mark is not None and mark in body else ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, delay: float, mark: bytes | None = None) -> None:
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, delay, mark), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    mark = sys.argv[3].encode() if len(sys.argv) > 3 else None
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]) / 1000, mark))

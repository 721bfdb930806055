"""A small HTTP/1.1 load generator: keep-alive connections sending one prepared request each.

A general-purpose client spends more CPU per request than the gateway does; on a two-core
machine that would measure the client. This one costs a few tens of microseconds a request.
"""

from __future__ import annotations

import asyncio
import time


def prepare(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of a request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def run(host: str, port: int, request: bytes, *, total: int, connections: int, expect: int) -> float:
    """Send `total` copies of `request` over `connections` connections; requests per second."""
    remaining = total
    statuses: dict[int, int] = {}

    async def connection() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request)
                status, body = await _read_response(reader)
                statuses[status] = statuses.get(status, 0) + 1
                if status != expect:
                    raise AssertionError(f"HTTP {status}: {body[:300]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return total / (time.perf_counter() - started)

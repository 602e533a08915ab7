"""A lean HTTP/1.1 load generator: asyncio streams, keep-alive connections, prebuilt request bytes.

The server under test and its load generator share the benchmark machine's cores. A thread-pool httpx client
spends about as much CPU per request as a bare FastAPI endpoint does, so on 2 cores it caps what any server
can show. This client spends tens of microseconds per request (no per-request objects beyond the bytes it
sends and the headers it parses), leaving the cores to the server, the way a load generator on another host
would. Each of ``concurrency`` connections sends one request, reads the whole response (``Content-Length``
framing, as uvicorn answers JSON), records the latency and sends the next.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit


def _request_bytes(host: str, path: str, headers: dict[str, str], body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(payload)}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode() + payload


async def _worker(host: str, port: int, queue: list[bytes], latencies: list[float], expect: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            request = queue.pop()
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(expect):
                raise RuntimeError(f"{head.split(b' ', 2)[1].decode()}: {body[:300].decode(errors='replace')}")
    finally:
        writer.close()


def post_all(base: str, path: str, headers: dict[str, str], bodies: list[dict[str, Any]], concurrency: int,
             expect_status: int = 201) -> tuple[list[float], float]:
    """POST every body over ``concurrency`` keep-alive connections; returns (latencies in s, wall seconds)."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    queue = [_request_bytes(f"{host}:{port}", path, headers, b) for b in reversed(bodies)]
    latencies: list[float] = []
    expect = f"HTTP/1.1 {expect_status} ".encode()

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(_worker(host, port, queue, latencies, expect) for _ in range(concurrency)))
        return time.perf_counter() - started

    wall = asyncio.run(run())
    return latencies, wall

"""The thread hop of the busiest write handlers: PXM's ``run_write`` against anyio's worker threads.

    .venv/bin/python benchmarks/thread_hop.py [--calls 10000] [--concurrency 8] [--threads 2] [--rounds 3]

Each handler of ``POST /api/v1/contacts`` runs its database work in one thread-pool call (``run_write``). This
measures that hop alone, with work that does nothing: ``--concurrency`` tasks on one uvloop event loop each make
calls one after another until ``--calls`` are done, through

* **pxm**: ``run_write`` with the app's write pool (a ``ThreadPoolExecutor`` of ``--threads`` threads entered
  with ``loop.run_in_executor``, the caller's context copied), as the app runs it;
* **peer**: ``anyio.to_thread.run_sync`` with a ``CapacityLimiter`` of ``--threads`` tokens (what ``run_write``
  did before, and what FastAPI does for a sync endpoint).

It prints the process CPU time and the wall time per call for each, in interleaved rounds, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import anyio
import anyio.to_thread
import uvloop

from pxm.platform.http.deps import run_write


class _Session:
    info: dict[str, object] = {}

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


def _nothing(_db: object) -> int:
    return 1


async def _timed(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> tuple[float, float]:
    async def burst(n: int) -> None:
        for _ in range(n):
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(burst(calls // concurrency) for _ in range(concurrency)))
    done = calls // concurrency * concurrency
    return 1e6 * (time.process_time() - cpu) / done, 1e6 * (time.perf_counter() - wall) / done


async def main(calls: int, concurrency: int, threads: int, rounds: int) -> None:
    pool = ThreadPoolExecutor(threads, thread_name_prefix="pxm-write")
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(session_factory=_Session, write_pool=pool)))
    limiter = anyio.CapacityLimiter(threads)
    ways: dict[str, Callable[[], Awaitable[object]]] = {
        "pxm": lambda: run_write(request, _nothing),  # type: ignore[arg-type]
        "peer": lambda: anyio.to_thread.run_sync(_nothing, None, limiter=limiter),
    }
    cpu: dict[str, list[float]] = {k: [] for k in ways}
    wall: dict[str, list[float]] = {k: [] for k in ways}
    for call in ways.values():  # warm up
        await _timed(call, 500, concurrency)
    for _ in range(rounds):
        for name, call in ways.items():
            c, w = await _timed(call, calls, concurrency)
            cpu[name].append(c)
            wall[name].append(w)
    pool.shutdown()
    for name in ways:
        print(f"{name:4}  CPU {statistics.median(cpu[name]):6.1f} us/call  wall {statistics.median(wall[name]):6.1f} "
              f"us/call  (median of {rounds} interleaved rounds of {calls} calls, {concurrency} tasks, {threads} threads)")
    print(f"  peer / pxm CPU per call: {statistics.median(cpu['peer']) / statistics.median(cpu['pxm']):.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    uvloop.run(main(args.calls, args.concurrency, args.threads, args.rounds))

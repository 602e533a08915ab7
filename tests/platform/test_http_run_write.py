"""run_write: the busiest write handlers run at most PXM_WRITE_THREADS at a time per process, with the caller's
context (the request id of the log lines)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import anyio

from pxm.platform.http.deps import run_write
from pxm.platform.logs import request_id_var


class _Session:
    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    info: dict[str, object] = {}


def _request(pool: ThreadPoolExecutor | None) -> SimpleNamespace:
    state = SimpleNamespace(session_factory=_Session)
    if pool is not None:
        state.write_pool = pool
    return SimpleNamespace(app=SimpleNamespace(state=state))


def _max_in_flight(tokens: int | None, calls: int = 4) -> int:
    lock = threading.Lock()
    now = peak = 0

    def work(_db: object) -> None:
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        time.sleep(0.2)  # long enough that unbounded calls overlap
        with lock:
            now -= 1

    async def main() -> None:
        request = _request(ThreadPoolExecutor(tokens) if tokens else None)
        async with anyio.create_task_group() as tg:
            for _ in range(calls):
                tg.start_soon(run_write, request, work)

    anyio.run(main)
    return peak


def test_write_handlers_never_run_more_than_the_limit_at_once():
    assert _max_in_flight(1) == 1
    assert _max_in_flight(2) <= 2


def test_without_the_apps_limiter_the_default_pool_runs_them():
    assert _max_in_flight(None) > 1


def test_the_call_sees_the_request_id_of_its_request():
    seen: list[tuple[str | None, str]] = []

    def work(_db: object) -> None:
        seen.append((request_id_var.get(), threading.current_thread().name))

    async def one(pool: ThreadPoolExecutor | None, rid: str) -> None:
        request_id_var.set(rid)
        await run_write(_request(pool), work)

    async def main() -> None:
        pool = ThreadPoolExecutor(2, thread_name_prefix="pxm-write")
        async with anyio.create_task_group() as tg:
            tg.start_soon(one, pool, "req-a")
            tg.start_soon(one, pool, "req-b")
            tg.start_soon(one, None, "req-c")
        pool.shutdown()

    anyio.run(main)
    assert sorted(rid for rid, _ in seen) == ["req-a", "req-b", "req-c"]
    assert sum(name.startswith("pxm-write") for _, name in seen) == 2  # the pool's threads, anyio's for the last

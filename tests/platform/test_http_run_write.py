"""run_write: the busiest write handlers run at most PXM_WRITE_THREADS at a time per process."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import anyio

from pxm.platform.http.deps import run_write


class _Session:
    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    info: dict[str, object] = {}


def _request(limiter: anyio.CapacityLimiter | None) -> SimpleNamespace:
    state = SimpleNamespace(session_factory=_Session)
    if limiter is not None:
        state.write_limiter = limiter
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
        request = _request(anyio.CapacityLimiter(tokens) if tokens else None)
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

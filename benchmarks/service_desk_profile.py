"""Where one ``POST /api/v1/contacts`` spends its time: SQL statements and CPU per request, in-process.

    .venv/bin/python benchmarks/service_desk_profile.py [--requests 300] [--rounds 5] \
        [--url sqlite:///... | postgresql+psycopg://...] [--show-sql] [--cprofile 40]

Seeds a database like ``service_desk.py`` does (2,000 patients, 40 available agents, one API token) and builds
two apps on it: PXM (``create_app``, job worker off) and the bare peer of ``service_desk.py`` (validate the body,
insert one row). This process drives both through ``httpx.ASGITransport`` (no sockets; sync endpoints and
dependencies still run in the thread pool, as under uvicorn), in ``--rounds`` interleaved rounds of
``--requests // rounds`` requests each, after 50 warm-up requests, and reports per request:

* the SQL statements PXM ran (an engine event counts them);
* the process CPU time (``time.process_time``: all threads, so the client's share is in both figures), as the
  median over rounds (rounds are interleaved so that other load on the machine hits both alike);
* PXM minus peer: the CPU of PXM's own work per contact;
* how long a new case holds the routing lock, as this process sees it: from the return of the round trip that
  takes the lock (with the agents snapshot) to the return of the one that commits (median and 90th percentile).
  The lock is every new case's wait (in every server process), so this, more than a process's CPU, bounds how
  many contacts a deployment takes per second; the database lets it go a little before the commit's answer
  arrives here.

``--show-sql`` prints the statements of one request. ``--cprofile N`` profiles the PXM requests with the thread
pool made inline (everything in this thread, so one profile sees the HTTP stack, dependencies and the service
code) and prints the top ``N`` functions by internal time and by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event

sys.path.insert(0, str(Path(__file__).parent))
import service_desk as desk  # noqa: E402


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.sql: list[str] | None = None
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        self.count += 1
        if self.sql is not None:
            self.sql.append(" ".join(statement.split())[:200])


class LockHold:
    """Times each new case's hold of the routing lock (see the module docstring) by wrapping the two functions
    that send those round trips, ``routing.service.locked_snapshot`` and ``audit.service._write_rows`` (the
    commit's), which their callers look up by name at call time."""

    def __init__(self) -> None:
        import threading

        from pxm.operations.routing import service as routing
        from pxm.platform.audit import service as audit

        self.held_ms: list[float] = []
        self._since = threading.local()
        locked_snapshot, write_rows = routing.locked_snapshot, audit._write_rows

        def timed_snapshot(*args: Any, **kwargs: Any) -> Any:
            result = locked_snapshot(*args, **kwargs)
            self._since.t = time.perf_counter()
            return result

        def timed_write_rows(*args: Any, **kwargs: Any) -> Any:
            result = write_rows(*args, **kwargs)
            since = getattr(self._since, "t", None)
            if since is not None and kwargs.get("commit"):
                self.held_ms.append(1000 * (time.perf_counter() - since))
                self._since.t = None
            return result

        routing.locked_snapshot = timed_snapshot
        audit._write_rows = timed_write_rows


def _bodies(patient_ids: list[int], n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        now = dt.datetime.now(dt.UTC).isoformat()
        out.append({"patient_id": rng.choice(patient_ids), "channel": rng.choice(["phone", "chat"]),
                    "direction": "inbound", "reason": rng.choice(desk.REASONS), "started_at": now, "queued_at": now})
    return out


Post = Callable[[dict[str, Any]], Awaitable[None]]


def _client(app: Any, headers: dict[str, str]) -> tuple[httpx.AsyncClient, Post]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers)

    async def post(body: dict[str, Any]) -> None:
        r = await client.post("/api/v1/contacts", json=body)
        if r.status_code != 201:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")

    return client, post


async def _cpu_per_request(post: Post, bodies: list[dict[str, Any]]) -> float:
    t0 = time.process_time()
    for body in bodies:
        await post(body)
    return 1000 * (time.process_time() - t0) / len(bodies)


def _inline_thread_pool() -> None:
    """Run what FastAPI would send to the thread pool in the calling thread (for a one-thread profile)."""
    import anyio.to_thread

    async def run_sync(func: Callable[..., Any], *args: Any, **_kw: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]


async def run(url: str, key_dir: Path, requests: int, rounds: int, show_sql: bool, top: int) -> dict[str, Any]:
    from pxm.platform.config import Settings
    from pxm.platform.db import make_engine
    from pxm.web.app import create_app

    desk._fresh(url)
    token, ids = desk._seed_desk(url, key_dir, patients=2000, agents=40)
    engine = make_engine(url)
    counter = StatementCounter(engine)
    hold = LockHold()
    pxm_app = create_app(Settings(database_url=url, key_dir=key_dir, log_json=True, jobs_mode="embedded"),
                         engine=engine, start_worker=False)
    peer_app = desk._peer_app(url)
    rng = random.Random(5)
    pxm_client, pxm_post = _client(pxm_app, {"Authorization": f"Bearer {token}"})
    peer_client, peer_post = _client(peer_app, {})
    out: dict[str, Any] = {}
    async with pxm_client, peer_client:
        for body in _bodies(ids, 50, rng):
            await pxm_post(body)
            await peer_post(body)
        if show_sql:
            counter.sql = []
            await pxm_post(_bodies(ids, 1, rng)[0])
            out["sql"] = counter.sql
            counter.sql = None
        per_round = max(1, requests // rounds)
        pxm_cpu, peer_cpu = [], []
        before = counter.count
        hold.held_ms.clear()
        for _ in range(rounds):
            pxm_cpu.append(await _cpu_per_request(pxm_post, _bodies(ids, per_round, rng)))
            peer_cpu.append(await _cpu_per_request(peer_post, _bodies(ids, per_round, rng)))
        out["statements"] = (counter.count - before) / (per_round * rounds)
        out["pxm_cpu_ms"] = statistics.median(pxm_cpu)
        out["peer_cpu_ms"] = statistics.median(peer_cpu)
        out["pxm_minus_peer_ms"] = out["pxm_cpu_ms"] - out["peer_cpu_ms"]
        held = sorted(hold.held_ms)
        if held:
            out["lock_held"] = (len(held), statistics.median(held), held[int(0.9 * (len(held) - 1))])
        if top:
            _inline_thread_pool()
            prof = cProfile.Profile()
            bodies = _bodies(ids, requests, rng)
            prof.enable()
            for body in bodies:
                await pxm_post(body)
            prof.disable()
            text = io.StringIO()
            stats = pstats.Stats(prof, stream=text)
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)
            out["profile"] = text.getvalue()
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--url", default=None, help="database URL (default: a SQLite file in a temp dir)")
    ap.add_argument("--cprofile", type=int, default=0, metavar="N", help="also print the top N functions")
    ap.add_argument("--show-sql", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        key_dir = tmp / "keys"
        key_dir.mkdir()
        url = args.url or f"sqlite:///{tmp / 'desk.db'}"
        res = asyncio.run(run(url, key_dir, args.requests, args.rounds, args.show_sql, args.cprofile))
    for line in res.get("sql", []):
        print("  ", line)
    print(f"{url.split(':')[0]}: PXM {res['statements']:.1f} statements/request, CPU {res['pxm_cpu_ms']:.2f} ms/request; "
          f"peer {res['peer_cpu_ms']:.2f} ms/request; PXM - peer = {res['pxm_minus_peer_ms']:.2f} ms "
          f"(median of {args.rounds} interleaved rounds)", flush=True)
    if "lock_held" in res:
        n, median, p90 = res["lock_held"]
        print(f"  routing lock held by a new case: median {median:.2f} ms, p90 {p90:.2f} ms ({n} new cases; from the "
              f"lock's round trip back to the commit's)", flush=True)
    if "profile" in res:
        print(res["profile"])


if __name__ == "__main__":
    main()

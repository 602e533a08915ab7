"""Audit-chain benchmarks: the CPU cost of audited transactions, and writers committing at once.

    .venv/bin/python benchmarks/audit_chain.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/pxm_bench_audit]

1. **CPU per transaction**: one session, 1,500 transactions of one query plus 3 ``audit.record`` calls each
   (median of 5 blocks of 300, ``time.process_time``).
2. **Concurrent writers** (PostgreSQL only): 16 threads, 40 transactions each: ``record``, four round trips of
   2 ms (``SELECT pg_sleep(0.002)``, standing in for the rest of a request's SQL), ``record``, commit. When
   the chain head is locked from the first event to the commit, these transactions run one at a time.
   Afterwards ``verify_chain`` must report the chain intact with every event.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time

from sqlalchemy import Engine, text

from pxm.platform.audit import record, verify_chain
from pxm.platform.auth.actor import Actor
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.db.migrate import upgrade


def _fresh(url: str) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    upgrade(url, engine=engine)
    return engine


def cpu_per_transaction(url: str) -> float:
    engine = _fresh(url)
    sf = make_session_factory(engine)
    actor = Actor.system("bench", request_id="r" * 32)

    def tx() -> None:
        with sf() as s, s.begin():
            s.execute(text("SELECT 1"))
            for i in range(3):
                record(s, actor, "case.opened", "case", i, patient_id=i, details={"contact_id": i, "agent": 5})

    for _ in range(100):
        tx()
    blocks = []
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(300):
            tx()
        blocks.append((time.process_time() - t0) / 300 * 1000)
    engine.dispose()
    return statistics.median(blocks)


def concurrent_writers(url: str, threads: int = 16, per_thread: int = 40) -> dict[str, float]:
    engine = _fresh(url)
    sf = make_session_factory(engine)
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        actor = Actor.system("bench")
        for _ in range(per_thread):
            t0 = time.perf_counter()
            with sf() as s, s.begin():
                record(s, actor, "case.opened", "case", 1)
                for _ in range(4):
                    s.execute(text("SELECT pg_sleep(0.002)"))
                record(s, actor, "case.contact", "case", 1)
            with lock:
                latencies.append(time.perf_counter() - t0)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    with sf() as s:
        report = verify_chain(s)
    engine.dispose()
    if not report.intact or report.events != 2 * threads * per_thread:
        raise SystemExit(f"audit chain broken or incomplete: {report.to_dict()}")
    latencies.sort()
    n = len(latencies)
    return {"tx_per_s": n / wall, "p50_ms": 1000 * latencies[n // 2], "p99_ms": 1000 * latencies[int(n * 0.99)]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"sqlite: {cpu_per_transaction(f'sqlite:///{tmp}/audit.db'):.2f} ms CPU per transaction "
              "(1 query + 3 audit events)", flush=True)
    if args.postgres:
        print(f"postgresql: {cpu_per_transaction(args.postgres):.2f} ms CPU per transaction "
              "(1 query + 3 audit events)", flush=True)
        r = concurrent_writers(args.postgres)
        print(f"postgresql, 16 threads committing at once: {r['tx_per_s']:.1f} tx/s, p50 {r['p50_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms; chain intact", flush=True)


if __name__ == "__main__":
    main()

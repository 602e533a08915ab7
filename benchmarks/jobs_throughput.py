"""Outbox throughput: jobs per second through ``run_pending`` (claim, run, mark done: two transactions each).

    .venv/bin/python benchmarks/jobs_throughput.py --jobs 2000 \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/pxm_bench]

Two handlers: ``noop`` (measures the outbox itself) and ``audited`` (appends one audit event, the usual
shape of a real handler). Each run uses a fresh database migrated with Alembic; one worker thread.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from pxm.platform.audit import record
from pxm.platform.auth.actor import Actor
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.db.migrate import upgrade
from pxm.platform.jobs import enqueue, handler, run_pending


@handler("bench.noop")
def _noop(session, job):  # type: ignore[no-untyped-def]
    return None


@handler("bench.audited")
def _audited(session, job):  # type: ignore[no-untyped-def]
    record(session, Actor.system("bench"), "bench.job", "job", job.id)
    return None


def bench(url: str, kind: str, n: int) -> float:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    upgrade(url, engine=engine)
    sf = make_session_factory(engine)
    with sf() as s, s.begin():
        for _ in range(n):
            enqueue(s, kind)
    started = time.perf_counter()
    ran = 0
    while True:
        step = run_pending(sf, worker="bench", limit=500)
        if not step:
            break
        ran += step
    elapsed = time.perf_counter() - started
    assert ran == n, (ran, n)
    engine.dispose()
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--postgres", default=None)
    args = ap.parse_args()
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("sqlite", lambda k: f"sqlite:///{Path(tmp) / (k + '.db')}"))
        if args.postgres:
            targets.append(("postgresql", lambda k: args.postgres))
        for name, url_for in targets:
            for kind in ("bench.noop", "bench.audited"):
                rate = bench(url_for(kind.split(".")[1]), kind, args.jobs)
                print(f"{name:10s} {kind:14s} {args.jobs} jobs  {rate:8.0f} jobs/s")


if __name__ == "__main__":
    main()

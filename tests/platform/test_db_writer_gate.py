"""SQLite's writer queue: first come, first served, and released however a transaction ends."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from pxm.platform.db import make_engine
from pxm.platform.db.engine import WriterGate


def test_waiters_are_served_in_arrival_order():
    gate = WriterGate(timeout=5)
    assert gate.acquire()
    order: list[int] = []

    def waiter(i: int) -> None:
        gate.acquire()
        order.append(i)
        gate.release()

    threads = []
    for i in range(6):
        t = threading.Thread(target=waiter, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # make the arrival order unambiguous
    gate.release()
    for t in threads:
        t.join(5)
    assert order == list(range(6))


def test_a_stuck_holder_only_delays_others_by_the_timeout():
    gate = WriterGate(timeout=0.2)
    assert gate.acquire()
    assert gate.acquire() is False  # falls back to SQLite's own busy timeout instead of hanging


def test_commit_rollback_and_errors_release_the_writer(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.rollback()
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    # Another thread can still write promptly: nothing leaked the queue.
    done = threading.Event()

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (3)"))
        done.set()

    threading.Thread(target=write).start()
    assert done.wait(5)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [3]
    engine.dispose()

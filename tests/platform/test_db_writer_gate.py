"""SQLite's writer queue: first come, first served, and released however a transaction ends."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import Integer, text

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


_TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("busy")
"""


def _other_process_sees(lock: Path) -> str:
    return subprocess.run([sys.executable, "-c", _TRY_LOCK, str(lock)], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_a_write_transaction_holds_the_lock_file_other_processes_queue_on(tmp_path):
    db = tmp_path / "p.db"
    engine = make_engine(f"sqlite:///{db}")
    lock = tmp_path / "p.db.writer-lock"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert _other_process_sees(lock) == "busy"
    assert _other_process_sees(lock) == "free"
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _other_process_sees(lock) == "busy"
        conn.rollback()
        assert _other_process_sees(lock) == "free"
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _other_process_sees(lock) == "free"
    engine.dispose()


def test_writes_still_work_when_the_lock_file_cannot_be_opened(tmp_path, caplog):
    (tmp_path / "q.db.writer-lock").symlink_to(tmp_path / "missing-dir" / "lock")
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [1]
    assert "cannot open the sqlite writer lock file" in caplog.text
    engine.dispose()


_WRITER = """
import sys
from sqlalchemy import Integer, text
from pxm.platform.db import make_engine
engine = make_engine(sys.argv[1])
for i in range(int(sys.argv[3])):
    with engine.begin() as conn:
        n = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
        conn.execute(text("INSERT INTO t VALUES (:w, :n)"), {"w": sys.argv[2], "n": n})
"""


def test_writers_in_several_processes_all_commit_one_at_a_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (w TEXT, n INTEGER)"))
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, str(w), "50"], stderr=subprocess.PIPE)
             for w in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    with engine.connect() as conn:
        seen = conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all()
    # every read-then-write saw all earlier commits: the counts are 0..149 with no repeats
    assert seen == list(range(150))
    engine.dispose()


def test_read_first_reads_the_last_commit_while_another_transaction_holds_the_writer(tmp_path):
    from sqlalchemy.orm import Session

    from pxm.platform.db.engine import read_first
    from pxm.platform.db.prebuilt import Prebuilt

    count = Prebuilt(text("SELECT count(*) AS n FROM t").columns(n=Integer))
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    seen: list[object] = []
    with engine.begin() as writer:  # an open write transaction of this process, not yet committed
        writer.execute(text("INSERT INTO t VALUES (2)"))

        def read() -> None:
            with Session(engine) as s:
                seen.append(read_first(s, count, {}))
                seen.append(s.in_transaction())  # the read left the session without a transaction

        t = threading.Thread(target=read)
        t.start()
        t.join(10)  # a read inside a session transaction would queue behind the writer (30 s)
        assert not t.is_alive()
    assert seen == [(1,), False]  # the last commit, not the open transaction's row
    # after the read the same session writes in a transaction of its own
    with Session(engine) as s:
        assert read_first(s, count, {}) == (2,)
        s.execute(text("INSERT INTO t VALUES (3)"))
        s.commit()
        s.execute(text("INSERT INTO t VALUES (4)"))
        assert read_first(s, count, {}) == (4,)  # inside a transaction: its own uncommitted row counts
        s.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 3
    engine.dispose()


def test_a_gate_handed_over_as_the_wait_times_out_is_not_lost():
    gate = WriterGate(timeout=0.05)
    assert gate.acquire()
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(gate.acquire()))
    t.start()
    t.join(5)
    assert got == [False]  # timed out and left the queue
    gate.release()  # nobody waits: the gate is free again
    assert gate.acquire()
    gate.release()

"""Audit events are buffered per transaction and written as one batch at commit: atomic with the change,
discarded with a rolled-back transaction or savepoint, visible to the transaction's own queries, and the
chain stays intact when many connections commit at once."""

from __future__ import annotations

import threading
from collections import defaultdict

from sqlalchemy import func, select, text
from tests.helpers.batches import statements_run

from pxm.platform.audit import record, verify_chain, write_pending
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.db import make_engine, make_session_factory

ACTOR = Actor.system("tests", request_id="buf-1")


def _last_seq(db) -> int:
    return int(db.execute(text("SELECT coalesce(max(seq), 0) FROM audit_events")).scalar_one())


def _actions_after(db, seq: int) -> list[str]:
    return list(db.execute(select(AuditEvent.action).where(AuditEvent.seq > seq)
                           .order_by(AuditEvent.seq)).scalars())


def test_record_runs_no_sql_until_the_transaction_ends(db, engine):
    base = _last_seq(db)
    with statements_run(engine) as statements:
        for i in range(3):
            record(db, ACTOR, "buf.write", "thing", i)
    assert statements == []  # the chain head is not touched, so not locked, while the work goes on
    db.commit()
    assert _actions_after(db, base) == ["buf.write"] * 3
    assert verify_chain(db).intact


def test_commit_writes_the_events_and_fills_in_their_place_in_the_chain(session_factory, db):
    base = _last_seq(db)
    with session_factory() as s:
        first = record(s, ACTOR, "buf.first", "thing", 1)
        second = record(s, ACTOR, "buf.second", "thing", 2, patient_id=7, details={"k": "v"})
        s.commit()
    assert (first.seq, second.seq) == (base + 1, base + 2)
    assert second.prev_hash == first.hash
    row = db.execute(select(AuditEvent).where(AuditEvent.seq == base + 2)).scalar_one()
    assert (row.action, row.patient_id, row.details, row.hash) == ("buf.second", 7, {"k": "v"}, second.hash)
    assert verify_chain(db).intact


def test_rollback_discards_the_buffered_events(session_factory, db):
    base = _last_seq(db)
    with session_factory() as s:
        record(s, ACTOR, "buf.lost", "thing", 1)
        s.rollback()
        record(s, ACTOR, "buf.kept", "thing", 2)
        s.commit()
    with session_factory() as s:
        record(s, ACTOR, "buf.closed", "thing", 3)  # closed without commit: rolled back
    assert _actions_after(db, base) == ["buf.kept"]
    assert verify_chain(db).intact


def test_a_transaction_reads_its_own_events(db):
    base = _last_seq(db)
    record(db, ACTOR, "buf.visible", "thing", 1, patient_id=3)
    # ORM query, Core count with the table only in WHERE, a subquery and raw SQL all see it
    assert _actions_after(db, base) == ["buf.visible"]
    record(db, ACTOR, "buf.visible", "thing", 2, patient_id=3)
    assert db.execute(select(func.count()).where(AuditEvent.action == "buf.visible")).scalar_one() == 2
    record(db, ACTOR, "buf.visible", "thing", 3, patient_id=3)
    sub = select(AuditEvent).where(AuditEvent.patient_id == 3).subquery()
    assert db.execute(select(func.count()).select_from(sub)).scalar_one() == 3
    record(db, ACTOR, "buf.visible", "thing", 4, patient_id=3)
    assert db.execute(text("SELECT count(*) FROM audit_events WHERE action = 'buf.visible'")).scalar_one() == 4
    assert verify_chain(db).intact


def test_raw_connection_reads_see_the_buffer_and_write_pending_writes_it_now(db):
    base = _last_seq(db)
    record(db, ACTOR, "buf.raw", "thing", 1)
    count = select(func.count()).select_from(AuditEvent.__table__).where(AuditEvent.seq > base)
    assert db.connection().execute(count).scalar_one() == 1
    ev = record(db, ACTOR, "buf.raw", "thing", 2)
    write_pending(db)
    assert ev.seq == base + 2 and ev.hash is not None
    assert verify_chain(db).intact


def test_savepoints_keep_or_discard_exactly_their_own_events(db):
    base = _last_seq(db)
    record(db, ACTOR, "buf.outer", "thing", 1)
    with db.begin_nested():
        record(db, ACTOR, "buf.released", "thing", 2)
    sp = db.begin_nested()
    record(db, ACTOR, "buf.inner", "thing", 3)
    # reading inside the savepoint writes the outer events there too ...
    assert _actions_after(db, base) == ["buf.outer", "buf.released", "buf.inner"]
    sp.rollback()
    # ... and rolling it back loses only the savepoint's own event: the others are written again
    record(db, ACTOR, "buf.after", "thing", 4)
    db.commit()
    assert _actions_after(db, base) == ["buf.outer", "buf.released", "buf.after"]
    assert verify_chain(db).intact


def test_committing_with_a_savepoint_still_open_keeps_its_events(session_factory, db):
    base = _last_seq(db)
    with session_factory() as s:
        s.commit()
        record(s, ACTOR, "buf.commit", "thing", 1)
        s.begin_nested()
        record(s, ACTOR, "buf.commit_in_savepoint", "thing", 2)
        s.commit()  # releases the savepoint, then commits the transaction
        with s.begin():  # ending the outer block commits a savepoint left open inside it
            record(s, ACTOR, "buf.block", "thing", 3)
            s.begin_nested()
            record(s, ACTOR, "buf.block_in_savepoint", "thing", 4)
    assert _actions_after(db, base) == ["buf.commit", "buf.commit_in_savepoint", "buf.block",
                                        "buf.block_in_savepoint"]
    assert verify_chain(db).intact


def test_uncommitted_events_do_not_hold_up_another_writer(committed_db_url):
    engine = make_engine(committed_db_url)
    sf = make_session_factory(engine)
    try:
        with sf() as slow:
            record(slow, ACTOR, "buf.slow", "thing", 1)
            done = threading.Event()

            def fast() -> None:
                with sf() as s, s.begin():
                    record(s, ACTOR, "buf.fast", "thing", 2)
                done.set()

            t = threading.Thread(target=fast)
            t.start()
            finished = done.wait(30)
            slow.commit()
            t.join(30)
            assert finished  # the other writer committed while this transaction was still open
        with sf() as s:
            assert list(s.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars()) == [
                "buf.fast", "buf.slow"]
            assert verify_chain(s).intact
    finally:
        engine.dispose()


def test_concurrent_committers_keep_the_chain_intact(committed_db_url):
    engine = make_engine(committed_db_url)
    sf = make_session_factory(engine)
    threads, transactions, per_tx = 6, 8, 3
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(w: int) -> None:
        try:
            start.wait(30)
            for t in range(transactions):
                with sf() as s, s.begin():
                    actor = Actor.system("tests", request_id=f"w{w}-t{t}")
                    for i in range(per_tx):
                        record(s, actor, "buf.concurrent", "thing", i)
                        s.execute(select(1))  # other work between the events
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    try:
        assert errors == []
        with sf() as s:
            report = verify_chain(s)
            assert report.intact and report.events == threads * transactions * per_tx, report
            seqs: dict[str, list[int]] = defaultdict(list)
            for rid, seq in s.execute(select(AuditEvent.request_id, AuditEvent.seq)):
                seqs[rid].append(seq)
        assert len(seqs) == threads * transactions
        for got in seqs.values():  # each transaction's events sit together in the chain
            got.sort()
            assert got == list(range(got[0], got[0] + per_tx))
    finally:
        engine.dispose()


def test_small_and_large_batches_both_extend_the_chain_and_move_the_head(session_factory, db):
    # On PostgreSQL up to 8 events are written with the head in one statement, more in two; SQLite always two.
    base = _last_seq(db)
    for n in (1, 8, 9, 30):
        with session_factory() as s:
            for i in range(n):
                record(s, ACTOR, f"buf.batch{n}", "thing", i, details={"i": i})
            s.commit()
    assert _actions_after(db, base) == [f"buf.batch{n}" for n in (1, 8, 9, 30) for _ in range(n)]
    head = db.execute(text("SELECT last_seq FROM audit_head WHERE id = 1")).scalar_one()
    assert head == base + 48
    assert verify_chain(db).intact

"""Prebuilt statements run below SQLAlchemy (on the DB-API cursor; through libpq on PostgreSQL) but behave as
Connection.execute does: same values back, same errors, same engine events, and the transaction they run in is
the caller's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    exc,
    insert,
    select,
    text,
    update,
)
from tests.conftest import PG_URL
from tests.helpers.batches import pipelines_sent, statements_run
from tests.helpers.postgres import one_connection_engine, terminate

from pxm.platform.db.base import UTCDateTime
from pxm.platform.db.prebuilt import Batch, Prebuilt, insert_returning_id, next_id, read_ahead

STAMP = dt.datetime(2026, 4, 2, 8, 0, tzinfo=dt.UTC)
META = MetaData()
ITEMS = Table(
    "prebuilt_items", META,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("status", String(10), nullable=False),
    Column("at", UTCDateTime, nullable=True),
    Column("details", JSON, nullable=False),
    Column("done", Boolean, nullable=False),
    Column("kind", String(10), nullable=True, default="plain"),
    Column("created_at", UTCDateTime, nullable=True, default=lambda: STAMP),
    Column("updated_at", UTCDateTime, nullable=True, onupdate=lambda: STAMP),
)
KEYS = ["code", "status", "at", "details", "done"]
INSERT = Prebuilt(insert(ITEMS).returning(ITEMS.c.id), KEYS)
INSERT_MANY = Prebuilt(insert(ITEMS), KEYS)
OPEN_SINCE = Prebuilt(select(ITEMS.c.code, ITEMS.c.at, ITEMS.c.details, ITEMS.c.done)
                      .where(ITEMS.c.status.in_(["new", "open"]), ITEMS.c.at >= bindparam("since"))
                      .order_by(ITEMS.c.code))
AT = dt.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture
def conn(connection: Connection) -> Connection:
    META.create_all(connection)  # inside the test's transaction: rolled back with it
    return connection


def _row(code: str, status: str, at: dt.datetime | None, done: bool = False) -> dict[str, Any]:
    return {"code": code, "status": status, "at": at, "details": {"reason": "billing", "n": [1, 2]}, "done": done}


def test_values_go_in_and_come_back_as_with_connection_execute(conn: Connection) -> None:
    new_id = INSERT.rows(conn, _row("a", "new", AT, done=True))[0][0]
    later = AT + dt.timedelta(hours=2)
    INSERT_MANY.run_many(conn, [_row("b", "open", later), _row("c", "closed", later), _row("d", "new", None)])
    got = OPEN_SINCE.rows(conn, {"since": AT})
    assert got == [("a", AT, {"reason": "billing", "n": [1, 2]}, True),
                   ("b", later, {"reason": "billing", "n": [1, 2]}, False)]
    assert got[0][1].tzinfo is not None  # aware UTC, as UTCDateTime gives through the ORM
    core = conn.execute(OPEN_SINCE.stmt, {"since": AT}).all()
    assert [tuple(r) for r in core] == got
    assert conn.execute(select(ITEMS.c.id).where(ITEMS.c.code == "a")).scalar_one() == new_id
    assert OPEN_SINCE.first(conn, {"since": later + dt.timedelta(seconds=1)}) is None


def test_a_constraint_violation_is_sqlalchemys_error_and_keeps_earlier_rows(conn: Connection) -> None:
    INSERT.rows(conn, _row("a", "new", AT))
    savepoint = conn.begin_nested()
    with pytest.raises(exc.IntegrityError) as caught:
        INSERT.rows(conn, _row("a", "open", AT))
    savepoint.rollback()
    assert "prebuilt_items" in str(caught.value) or "code" in str(caught.value)
    assert conn.execute(select(ITEMS.c.status)).scalars().all() == ["new"]


def test_a_missing_parameter_is_named(conn: Connection) -> None:
    with pytest.raises(exc.InvalidRequestError, match="since"):
        OPEN_SINCE.rows(conn, {})


def test_engine_events_see_each_statement(conn: Connection) -> None:
    seen: list[tuple[str, bool]] = []

    def on_execute(_c: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool) -> None:
        seen.append((statement.split()[0], many))

    event.listen(conn.engine, "before_cursor_execute", on_execute)
    try:
        INSERT.rows(conn, _row("a", "new", AT))
        INSERT_MANY.run_many(conn, [_row("b", "new", AT), _row("c", "new", AT)])
        OPEN_SINCE.rows(conn, {"since": AT})
    finally:
        event.remove(conn.engine, "before_cursor_execute", on_execute)
    assert seen == [("INSERT", False), ("INSERT", True), ("SELECT", False)]


def test_an_in_list_given_at_run_time_is_refused(conn: Connection) -> None:
    stmt = Prebuilt(select(ITEMS.c.id).where(ITEMS.c.status.in_(bindparam("statuses", expanding=True))))
    with pytest.raises(TypeError, match="statuses"):
        stmt.rows(conn, {"statuses": ["new"]})


def test_insert_returning_id_takes_the_columns_given(conn: Connection) -> None:
    first = insert_returning_id(conn, ITEMS, _row("a", "new", AT))
    second = insert_returning_id(conn, ITEMS, {"code": "b", "status": "open", "details": {}, "done": False})
    assert second > first
    got = conn.execute(select(ITEMS.c.id, ITEMS.c.code, ITEMS.c.at).order_by(ITEMS.c.id)).all()
    assert [tuple(r) for r in got] == [(first, "a", AT), (second, "b", None)]


def test_columns_left_out_take_their_python_defaults(conn: Connection) -> None:
    # kind, created_at (INSERT) and updated_at (UPDATE) are nullable: a missed default would be a silent NULL
    insert_returning_id(conn, ITEMS, _row("a", "new", AT))
    insert_returning_id(conn, ITEMS, {**_row("b", "new", AT), "kind": "urgent", "created_at": AT})
    Prebuilt(update(ITEMS).where(ITEMS.c.code == bindparam("c")).values(status=bindparam("s"))).run(
        conn, {"c": "a", "s": "open"})
    got = conn.execute(select(ITEMS.c.code, ITEMS.c.status, ITEMS.c.kind, ITEMS.c.created_at, ITEMS.c.updated_at)
                       .order_by(ITEMS.c.code)).all()
    assert [tuple(r) for r in got] == [("a", "open", "plain", STAMP, STAMP), ("b", "new", "urgent", AT, None)]


def _verbs(statements: list[str]) -> list[str]:
    return [sql.split()[0] for sql in statements]


def test_a_batch_runs_its_statements_in_order_and_gives_each_its_rows(conn: Connection) -> None:
    # on PostgreSQL one pipeline (one round trip); each statement still sees the ones before it
    with statements_run(conn, "after_cursor_execute") as ran:
        batch = Batch(conn)
        a = batch.add(INSERT, _row("a", "new", AT))
        many = batch.add_many(INSERT_MANY, [_row("b", "open", AT), _row("c", "closed", AT)])
        opened = batch.add(OPEN_SINCE, {"since": AT})
        move = batch.add(Prebuilt(update(ITEMS).where(ITEMS.c.code == "a").values(status="closed")))
        after = batch.add(OPEN_SINCE, {"since": AT})
        assert batch.add_many(INSERT_MANY, []) is None
        batch.send()
    assert many is not None and move.rows == [] and many.rows == []
    assert a.rows == [(conn.execute(select(ITEMS.c.id).where(ITEMS.c.code == "a")).scalar_one(),)]
    assert [r[0] for r in opened.rows] == ["a", "b"] and opened.rows[0][1] == AT
    assert [r[0] for r in after.rows] == ["b"]
    assert _verbs(ran) == ["INSERT", "INSERT", "SELECT", "UPDATE", "SELECT"]


def _traced(c: Connection, trace: Path, work: Callable[[], None]) -> list[str]:
    """libpq's protocol trace of ``work`` on ``c`` (PostgreSQL): one line per message, F sent, B received."""
    from psycopg import pq

    pgconn = c.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
    with trace.open("w") as f:
        pgconn.trace(f.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            work()
        finally:
            pgconn.untrace()
    messages = []
    for line in trace.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] in ("F", "B"):  # (a statement's SQL may go on over several lines)
            messages.append(f"{parts[0]} {parts[2]}")
            if messages[-1] == "B ReadyForQuery":  # the sync's answer: the end of the batch
                break
    return messages


@pytest.mark.skipif(not PG_URL, reason="libpq's pipeline is PostgreSQL's: needs PXM_TEST_DATABASE_URL")
def test_on_postgresql_a_batch_with_its_begin_and_commit_is_one_write_of_prepared_statements(tmp_path: Path) -> None:
    with one_connection_engine(ping_after_seconds=3600) as engine:
        with engine.begin() as c:
            META.drop_all(c)
            META.create_all(c)
        try:
            with engine.connect() as c:
                def batch_with_commit(code: str) -> Callable[[], None]:
                    def work() -> None:
                        batch = Batch(c)
                        batch.add(INSERT, _row(code, "new", AT))
                        opened = batch.add(OPEN_SINCE, {"since": AT})
                        batch.send(commit=True)
                        assert [r[0] for r in opened.rows][-1] == code  # the rows of a statement come back
                    return work

                c.begin()
                first = _traced(c, tmp_path / "first.trace", batch_with_commit("a"))
                sent = [m for m in first if m.startswith("F")]
                # the transaction's BEGIN, a PREPARE of each statement (new to this connection), the executions
                # and the COMMIT, then the sync: all written before anything is read back
                assert first[:len(sent)] == sent and sent[-1] == "F Sync"
                assert sum(m == "F Parse" for m in sent) == 4  # BEGIN, two PREPAREs, COMMIT
                assert sum(m == "F Execute" for m in sent) == 4
                c.rollback()  # (SQLAlchemy's transaction: the database's ended with the COMMIT)
                c.begin()
                again = _traced(c, tmp_path / "again.trace", batch_with_commit("b"))
                assert sum(m == "F Parse" for m in again) == 2  # BEGIN and COMMIT: the statements are prepared
                c.rollback()
                # psycopg prepares a query it has run 5 times, and at the next rollback it sends DEALLOCATE ALL,
                # which drops PXM's statements too: they are forgotten with psycopg's and prepared again
                c.begin()
                for _ in range(6):
                    c.execute(select(ITEMS.c.id).where(ITEMS.c.code == "a")).all()
                psycopgs = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '\\_pg3\\_%'"
                assert c.execute(text(psycopgs)).scalar() == 1
                c.rollback()
                c.begin()
                after = _traced(c, tmp_path / "after.trace", batch_with_commit("b2"))
                assert sum(m == "F Parse" for m in after) == 4
                c.rollback()
                # statements gone from the server (DEALLOCATE ALL): that transaction fails, the next prepares afresh
                c.execute(text("DEALLOCATE ALL"))
                c.commit()
                c.begin()
                with pytest.raises(exc.ProgrammingError, match="does not exist"):
                    batch_with_commit("gone")()
                c.rollback()
                c.begin()
                batch_with_commit("c")()
                c.rollback()
                named = c.execute(text("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '\\_pxm\\_%'"))
                assert named.scalar() == 2
                # a connection lost under a batch: SQLAlchemy's disconnect error, and the pool replaces it
                pid = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
                c.rollback()
                terminate(pid)
                c.begin()
                with pytest.raises(exc.OperationalError):
                    batch_with_commit("lost")()
                assert c.invalidated
            with engine.connect() as c:
                assert c.execute(select(ITEMS.c.code).order_by(ITEMS.c.code)).scalars().all() == ["a", "b", "b2", "c"]
        finally:
            with engine.begin() as c:
                META.drop_all(c)


@pytest.mark.skipif(not PG_URL, reason="sequences are PostgreSQL's (SQLite gives ids at INSERT): needs PXM_TEST_DATABASE_URL")
def test_on_postgresql_next_id_reserves_from_each_tables_own_sequence() -> None:
    from pxm.platform.db import make_engine
    from pxm.platform.db.migrate import upgrade

    engine = make_engine(PG_URL or "")
    upgrade(PG_URL or "", engine=engine)  # (at head already once the suite's database is set up: nothing to do)
    with engine.connect() as c:
        for table in ("cases", "contacts", "routing_decisions"):  # the tables whose ids the desk reserves
            named = c.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()
            assert named == f"public.{table}_id_seq"
            first, second = (c.execute(select(next_id(table))).scalar_one() for _ in range(2))
            assert second == first + 1
        c.rollback()
    engine.dispose()
    with pytest.raises(ValueError, match="not a plain table name"):
        next_id("cases; DROP TABLE cases")


@pytest.mark.skipif(not PG_URL, reason="libpq's pipeline is PostgreSQL's: needs PXM_TEST_DATABASE_URL")
def test_on_postgresql_a_closed_connection_is_freed_with_the_record_of_its_statements() -> None:
    import gc
    import weakref

    import psycopg

    from pxm.platform.db import libpq

    conn = psycopg.connect((PG_URL or "").replace("postgresql+psycopg://", "postgresql://"))
    statement = libpq.Statement("SELECT %(n)s::INTEGER + 1", [{"n": 41}])
    libpq.run(conn, [statement])
    assert statement.results and libpq.rows(conn, statement.results[0])[0] == [(42,)]
    ref = weakref.ref(conn)
    conn.close()
    del conn, statement
    gc.collect()
    assert ref() is None


@pytest.mark.skipif(not PG_URL, reason="libpq's pipeline is PostgreSQL's: needs PXM_TEST_DATABASE_URL")
def test_on_postgresql_prepared_statements_can_be_turned_off_for_a_pooler(tmp_path: Path) -> None:
    from pxm.platform.db import make_engine

    engine = make_engine(PG_URL or "", prepared_statements=False, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as c:
            META.drop_all(c)
            META.create_all(c)
        with engine.connect() as c:
            def work() -> None:
                batch = Batch(c)
                batch.add(INSERT, _row("a", "new", AT))
                opened = batch.add(OPEN_SINCE, {"since": AT})
                batch.send(commit=True)
                assert [r[0] for r in opened.rows] == ["a"]

            c.begin()
            sent = [m for m in _traced(c, tmp_path / "unnamed.trace", work) if m.startswith("F")]
            assert sent.count("F Parse") == 4 and sent[-1] == "F Sync"  # BEGIN, both statements, COMMIT
            c.rollback()
            assert "Parse \"_pxm" not in (tmp_path / "unnamed.trace").read_text()  # no named statement
            named = c.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
            assert named == 0
    finally:
        with engine.begin() as c:
            META.drop_all(c)
        engine.dispose()


def test_a_failing_statement_in_a_batch_raises_its_own_error_and_stops_the_rest(conn: Connection) -> None:
    INSERT.rows(conn, _row("a", "new", AT))
    savepoint = conn.begin_nested()
    batch = Batch(conn)
    batch.add(INSERT, _row("b", "new", AT))
    batch.add(INSERT, _row("a", "open", AT))  # duplicate code
    batch.add(INSERT, _row("c", "new", AT))
    with pytest.raises(exc.IntegrityError) as caught:
        batch.send()
    assert "INSERT INTO prebuilt_items" in str(caught.value)
    params = caught.value.params  # the failing statement's parameters, not another's (named or positional)
    assert (params["code"] if isinstance(params, dict) else params[0]) == "a"
    savepoint.rollback()
    assert conn.execute(select(ITEMS.c.code)).scalars().all() == ["a"]


def test_deferred_writes_go_before_the_next_statement_and_with_the_next_batch(conn: Connection) -> None:
    first = Batch(conn)
    first.add(INSERT, _row("a", "new", AT))
    first.defer()
    # any statement sends them first: the transaction reads its own writes
    assert [r[0] for r in OPEN_SINCE.rows(conn, {"since": AT})] == ["a"]
    second = Batch(conn)
    second.add_many(INSERT_MANY, [_row("b", "open", AT)])
    second.defer()
    third = Batch(conn)
    opened = third.add(OPEN_SINCE, {"since": AT})
    assert len(third.calls) == 2  # the deferred INSERT goes first, in the same round trip
    third.send()
    assert [r[0] for r in opened.rows] == ["a", "b"]
    fourth = Batch(conn)
    fourth.add(INSERT, _row("c", "new", AT))
    fourth.defer()
    assert [r[0] for r in conn.execute(select(ITEMS.c.code).order_by(ITEMS.c.code))] == ["a", "b", "c"]


def test_a_read_ahead_goes_with_the_next_statement_and_answers_once_while_nothing_else_has_run(
        conn: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    pg = conn.dialect.name == "postgresql"
    INSERT.rows(conn, _row("a", "new", AT))
    sent = pipelines_sent(monkeypatch)
    with statements_run(conn) as ran:
        assert read_ahead(conn, OPEN_SINCE, {"since": AT}) is pg  # queued through libpq only
        INSERT.rows(conn, _row("b", "open", AT))  # on PostgreSQL the read goes with this, after it
        assert [r[0] for r in OPEN_SINCE.rows(conn, {"since": AT})] == ["a", "b"]
        assert _verbs(ran) == ["INSERT", "SELECT"]  # each statement ran once
        assert not pg or [len(p) for p in sent] == [2]
        OPEN_SINCE.rows(conn, {"since": AT})  # given once: asked again, it runs again
        assert _verbs(ran)[-1] == "SELECT" and len(ran) == 3
        # a statement run since the read drops it: that statement may have changed the rows
        read_ahead(conn, OPEN_SINCE, {"since": AT})
        INSERT.rows(conn, _row("c", "new", AT))
        conn.execute(update(ITEMS).where(ITEMS.c.code == "c").values(status="done"))
        assert [r[0] for r in OPEN_SINCE.rows(conn, {"since": AT})] == ["a", "b"]
        # a read asked for before anything has carried it runs once, on its own, and nothing carries it later
        read_ahead(conn, OPEN_SINCE, {"since": AT})
        del ran[:]
        OPEN_SINCE.rows(conn, {"since": AT})
        INSERT.rows(conn, _row("d", "new", AT))
        assert _verbs(ran) == ["SELECT", "INSERT"] and (not pg or [len(p) for p in sent[-2:]] == [1, 1])
        # other parameters are another read
        read_ahead(conn, OPEN_SINCE, {"since": AT})
        INSERT.rows(conn, _row("e", "new", AT))
        assert OPEN_SINCE.rows(conn, {"since": AT + dt.timedelta(days=1)}) == []


def test_a_read_ahead_is_dropped_with_its_transaction(committed_db_url: str) -> None:
    from pxm.platform.db import make_engine

    engine = make_engine(committed_db_url)
    try:
        with engine.begin() as c:
            META.create_all(c)
        with engine.connect() as c, engine.connect() as other:
            # rolled back: what was read with the transaction's INSERT went with it
            c.begin()
            read_ahead(c, OPEN_SINCE, {"since": AT})
            INSERT.rows(c, _row("x", "new", AT))
            c.rollback()
            with c.begin():
                assert OPEN_SINCE.rows(c, {"since": AT}) == []
            # committed: a change made after the commit is seen by the next transaction
            c.begin()
            read_ahead(c, OPEN_SINCE, {"since": AT})
            INSERT.rows(c, _row("y", "new", AT))
            c.commit()
            with other.begin():
                other.execute(update(ITEMS).where(ITEMS.c.code == "y").values(status="done"))
            with c.begin():
                assert OPEN_SINCE.rows(c, {"since": AT}) == []
    finally:
        with engine.begin() as c:
            META.drop_all(c)
        engine.dispose()


def test_deferred_writes_commit_with_the_transaction_or_go_with_its_rollback(committed_db_url: str) -> None:
    from pxm.platform.db import make_engine

    engine = make_engine(committed_db_url)
    try:
        with engine.begin() as c:
            META.create_all(c)
        with engine.connect() as c:
            with c.begin() as tx:
                batch = Batch(c)
                batch.add(INSERT, _row("dropped", "new", AT))
                batch.defer()
                tx.rollback()
            with c.begin():  # the same connection: nothing of the rolled-back transaction is left to send
                batch = Batch(c)
                batch.add(INSERT, _row("kept", "new", AT))
                batch.defer()  # nothing else runs: the COMMIT sends it
        with engine.connect() as c:
            assert c.execute(select(ITEMS.c.code)).scalars().all() == ["kept"]
    finally:
        with engine.begin() as c:
            META.drop_all(c)
        engine.dispose()


def test_executemany_of_a_statement_with_returning_writes_every_row(conn: Connection) -> None:
    # (psycopg keeps no rows of an executemany: they must not be read)
    INSERT.run_many(conn, [_row("a", "new", AT), _row("b", "new", AT)])
    batch = Batch(conn)
    batch.add_many(INSERT, [_row("c", "new", AT), _row("d", "new", AT)])
    batch.add(OPEN_SINCE, {"since": AT})
    batch.send()
    assert [r[0] for r in batch.calls[1].rows] == ["a", "b", "c", "d"]

"""Audit events written by a real commit (a session bound to the engine, not to a test's transaction).

On PostgreSQL the events and the COMMIT go to the server in one round trip; what anyone sees must be what
separate statements give: the change and its events committed together, or neither, and a savepoint's release
commits nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, exc, select, text

from pxm.platform.audit import record, verify_chain
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.db import make_engine, make_session_factory

ACTOR = Actor.system("tests", request_id="commit-1")
PROBE = "audit_commit_probe"


@pytest.fixture
def real(committed_db_url: str) -> Any:
    engine = make_engine(committed_db_url)
    with engine.begin() as conn:  # a foreign key checked at COMMIT, to make a commit fail
        conn.execute(text(f"CREATE TABLE {PROBE} (id INTEGER PRIMARY KEY, parent INTEGER "
                          f"REFERENCES {PROBE}(id) DEFERRABLE INITIALLY DEFERRED)"))
    yield engine, make_session_factory(engine)
    engine.dispose()


def _outside(engine: Engine) -> Engine:
    # a plain engine: PXM's SQLite engine begins every transaction as the writer, which would wait for the test's
    return create_engine(engine.url.render_as_string(hide_password=False))


def _read(engine: Engine, stmt: Any) -> list[Any]:
    outside = _outside(engine)
    try:
        with outside.connect() as conn:
            return list(conn.execute(stmt).scalars())
    finally:
        outside.dispose()


def _actions(engine: Engine) -> list[str]:
    return _read(engine, select(AuditEvent.action).order_by(AuditEvent.seq))


def _probe_ids(engine: Engine) -> list[int]:
    return _read(engine, text(f"SELECT id FROM {PROBE} ORDER BY id"))


def test_the_change_and_its_events_commit_together(real: Any) -> None:
    engine, factory = real
    status_at_commit: list[Any] = []

    def on_commit(conn: Any) -> None:  # SQLAlchemy's COMMIT, just before it goes to the driver
        dbapi = conn.connection.dbapi_connection
        status_at_commit.append(getattr(getattr(dbapi, "info", None), "transaction_status", None))

    event.listen(engine, "commit", on_commit)
    with factory() as s:
        s.execute(text(f"INSERT INTO {PROBE} (id) VALUES (1)"))
        record(s, ACTOR, "probe.made", "probe", 1)
        record(s, ACTOR, "probe.checked", "probe", 1)
        s.commit()
    assert _probe_ids(engine) == [1]
    assert _actions(engine)[-2:] == ["probe.made", "probe.checked"]
    with factory() as s:
        assert verify_chain(s).intact
    if engine.dialect.name == "postgresql":
        from psycopg.pq import TransactionStatus

        # the events' batch ended the transaction; SQLAlchemy's own COMMIT found nothing to send
        assert status_at_commit == [TransactionStatus.IDLE]


def test_a_commit_that_fails_keeps_neither_the_change_nor_its_events(real: Any) -> None:
    engine, factory = real
    before = _actions(engine)
    with factory() as s:
        s.execute(text(f"INSERT INTO {PROBE} (id, parent) VALUES (2, 99)"))  # no row 99: fails at COMMIT
        record(s, ACTOR, "probe.orphan", "probe", 2)
        with pytest.raises(exc.IntegrityError):
            s.commit()
        s.rollback()
        # the session works on afterwards, and the chain goes on from where it was
        s.execute(text(f"INSERT INTO {PROBE} (id) VALUES (3)"))
        record(s, ACTOR, "probe.made", "probe", 3)
        s.commit()
    assert _probe_ids(engine) == [3]
    assert _actions(engine) == [*before, "probe.made"]
    with factory() as s:
        assert verify_chain(s).intact


def test_releasing_a_savepoint_commits_nothing_until_the_transaction_does(real: Any) -> None:
    engine, factory = real
    with factory() as s:
        s.execute(text(f"INSERT INTO {PROBE} (id) VALUES (4)"))
        nested = s.begin_nested()
        record(s, ACTOR, "probe.inner", "probe", 4)
        nested.commit()  # writes the events in the transaction, and must not end it
        assert "probe.inner" not in _actions(engine) and _probe_ids(engine) == []
        record(s, ACTOR, "probe.outer", "probe", 4)
        s.commit()
    assert _actions(engine)[-2:] == ["probe.inner", "probe.outer"]
    assert _probe_ids(engine) == [4]

"""Write and verify the audit chain.

``record`` buffers an event in the caller's session; the whole transaction's events are written in one batch
just before it commits (with the chain head locked only for those last milliseconds), so they commit or roll
back with the change they describe. SQL that reads the audit tables in the transaction writes the buffer first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, event, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction

from pxm.platform.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.db.prebuilt import Batch, Prebuilt, numbered_params, numbered_values


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(event)).encode("utf-8")).hexdigest()


def _event_fields(row: AuditEvent) -> dict[str, Any]:
    occurred = row.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return {
        "seq": row.seq, "occurred_at": occurred, "actor": row.actor, "action": row.action,
        "resource_type": row.resource_type, "resource_id": row.resource_id,
        "patient_id": row.patient_id, "outcome": row.outcome, "request_id": row.request_id,
        "details": row.details or {},
    }


_HEAD_KEY = "pxm_audit_head"  # (last_seq, last_hash) while this transaction holds the head
_BUFFER_KEY = "pxm_audit_buffer"
_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
_HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
# Built once: constructing a statement costs more than running it on SQLite.
# They run on the cursor (``Prebuilt``): every change writes audit events, so these three run in every commit.
_LOCK_HEAD = Prebuilt(update(_HEAD).where(_HEAD.c.id == 1).values(last_seq=_HEAD.c.last_seq)
                      .returning(_HEAD.c.last_seq, _HEAD.c.last_hash))
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(last_seq=bindparam("new_seq"),
                                                         last_hash=bindparam("new_hash"))
_SET_HEAD = Prebuilt(_MOVE_HEAD)
_EVENT_KEYS = ("seq", "occurred_at", "actor", "action", "resource_type", "resource_id", "patient_id", "outcome",
               "request_id", "details", "prev_hash", "hash")
_INSERT_EVENTS = Prebuilt(insert(_EVENTS), _EVENT_KEYS)


@dataclass
class _Entry:
    event: AuditEvent
    recorded_in: SessionTransaction  # the innermost transaction (root or savepoint) when record() ran
    written_in: SessionTransaction | None = None  # where its row was inserted; None while only buffered


class _Buffer:
    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.unwritten = 0
        self.writing = False


def _buffer(session: Session) -> _Buffer | None:
    return session.info.get(_BUFFER_KEY)


def _innermost(session: Session) -> SessionTransaction:
    tx = session.get_nested_transaction() or session.get_transaction()
    if tx is None:
        tx = session.begin()  # as the INSERT used to: the event opens the session's transaction
    return tx


def _within(tx: SessionTransaction | None, scope: SessionTransaction) -> bool:
    while tx is not None:
        if tx is scope:
            return True
        tx = tx.parent
    return False


def record(
    session: Session,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | int | None = None,
    *,
    patient_id: int | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the chain in the current transaction. ``details`` must not hold PHI.

    The event is buffered in the session and written with the rest of the transaction's events just
    before it commits (``seq``, ``prev_hash`` and ``hash`` are set on the returned object then). A rollback
    -- of the transaction, or of the savepoint the event was recorded in -- discards it. Any SQL of the
    transaction that names ``audit_events`` (ORM, Core or text, through the session or its connection)
    writes the buffer first, so a transaction sees its own events.
    """
    tx = _innermost(session)
    buf = _buffer(session)
    if buf is None:
        buf = session.info[_BUFFER_KEY] = _Buffer()
    ev = AuditEvent(
        occurred_at=utcnow(), actor=actor.label, action=action, resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id), patient_id=patient_id,
        outcome=outcome, request_id=actor.request_id, details=details or {},
    )
    buf.entries.append(_Entry(ev, tx))
    buf.unwritten += 1
    return ev


def write_pending(session: Session, *, commit: bool = False) -> None:
    """Write the session's buffered events now, in one batch, extending the chain.

    The first write of a transaction locks the head row (a row lock on PostgreSQL; SQLite's write lock is
    already held), so concurrent transactions append one after another; the lock is held until commit.
    Callers need not call this: it runs before every commit and before any SQL that names the audit tables.
    ``commit``: COMMIT the transaction in the same round trip as the events (``Batch.send(commit=True)``)."""
    buf = _buffer(session)
    if buf is None or buf.unwritten == 0 or buf.writing:
        if commit:
            Batch(session.connection()).send(commit=True)
        return
    buf.writing = True
    try:
        conn = session.connection()  # the innermost transaction's connection (a savepoint is begun if due)
        where = _innermost(session)
        head = session.info.get(_HEAD_KEY)
        if head is None:
            # a Batch: writes the transaction deferred (``Batch.defer``) go in the same round trip
            lock = Batch(conn)
            call = lock.add(_LOCK_HEAD)
            lock.send()
            if not call.rows:
                raise RuntimeError("audit_head row missing: run `pxm db upgrade`")
            head = (int(call.rows[0][0]), str(call.rows[0][1]))
        seq, prev_hash = head
        rows = []
        for entry in buf.entries:
            if entry.written_in is not None:
                continue
            ev = entry.event
            seq += 1
            ev.seq, ev.prev_hash = seq, prev_hash
            ev.hash = prev_hash = event_hash(prev_hash, _event_fields(ev))
            rows.append({k: getattr(ev, k) for k in _EVENT_KEYS})
            entry.written_in = where
        _write_rows(conn, rows, {"new_seq": seq, "new_hash": prev_hash}, commit=commit)
        session.info[_HEAD_KEY] = (seq, prev_hash)
        buf.unwritten = 0
    finally:
        buf.writing = False


def lock_head_in(session: Session, batch: Batch) -> Callable[[], None]:
    """Queue the lock of the chain's head in ``batch``, for a transaction that will write events and takes
    another lock in the same round trip (routing): its events are then written without a round trip for the
    head at commit. Call the returned function after ``batch.send()``. Nothing is queued when this transaction
    (or savepoint) holds the head already. Events buffered so far are written first, the usual way: the
    statements of a batch are sent before any result comes back, so none may need one of its own."""
    write_pending(session)
    if session.info.get(_HEAD_KEY) is not None:
        return lambda: None
    call = batch.add(_LOCK_HEAD)

    def hold() -> None:
        if not call.rows:
            raise RuntimeError("audit_head row missing: run `pxm db upgrade`")
        session.info[_HEAD_KEY] = (int(call.rows[0][0]), str(call.rows[0][1]))

    return hold


_ONE_TRIP_MAX = 8  # events per transaction written with the head in one statement on PostgreSQL
_INSERT_WITH_HEAD: dict[int, Prebuilt] = {}


def _write_rows(conn: Connection, rows: list[dict[str, Any]], head: dict[str, Any], *, commit: bool = False) -> None:
    """Insert the events and move the head (and COMMIT with them, with ``commit``). On PostgreSQL a few events
    (a request's) go in the same statement as the head (a data-modifying CTE): one round trip less while the
    head is locked."""
    n = len(rows)
    batch = Batch(conn)
    if conn.dialect.name != "postgresql" or not 0 < n <= _ONE_TRIP_MAX:
        batch.add_many(_INSERT_EVENTS, rows)
        batch.add(_SET_HEAD, head)
    else:
        stmt = _INSERT_WITH_HEAD.get(n)
        if stmt is None:
            both = _MOVE_HEAD.add_cte(insert(_EVENTS).values(numbered_values(_EVENTS, _EVENT_KEYS, n))
                                      .cte("written"))
            stmt = _INSERT_WITH_HEAD.setdefault(n, Prebuilt(both))
        batch.add(stmt, {**head, **numbered_params(rows)})
    batch.send(commit=commit)


# The session whose transaction runs on each connection, so a statement can find the session's buffer.
_SESSIONS: weakref.WeakKeyDictionary[Connection, weakref.ref[Session]] = weakref.WeakKeyDictionary()


@event.listens_for(Session, "after_begin")
def _remember_connection(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    _SESSIONS[connection] = weakref.ref(session)


@event.listens_for(Engine, "before_cursor_execute")
def _write_before_reading(conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any,
                          _executemany: bool) -> None:
    # Any SQL naming the audit tables (ORM, Core, text, raw connection) sees the transaction's own events.
    # A substring test on the SQL string costs about a microsecond; the write happens at most once.
    if "audit_events" not in statement and "audit_head" not in statement:
        return
    ref = _SESSIONS.get(conn)
    session = ref() if ref is not None else None
    buf = _buffer(session) if session is not None else None
    if session is not None and buf is not None and buf.unwritten and not buf.writing:
        write_pending(session)


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    # Also when a savepoint is released: this hook cannot tell that from a commit of the whole transaction
    # with a savepoint still open, which must not lose the events. Taking the head early there is only slower.
    buf = _buffer(session)
    if buf is None or not buf.unwritten:
        return
    session.flush()  # the ORM's changes first, so the head is locked for as short a time as possible
    write_pending(session, commit=_ends_database_transaction(session))


def _ends_database_transaction(session: Session) -> bool:
    """Whether this commit ends the database transaction on PostgreSQL (psycopg), so that the events and the
    COMMIT can go in one round trip; SQLAlchemy's own COMMIT that follows finds the transaction ended and sends
    nothing. Not when a savepoint is being released (a nested transaction is still current), nor when the
    session runs inside a transaction it did not begin (bound to a Connection, as tests do: its commit only
    releases a savepoint or leaves the transaction to its owner)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.driver != "psycopg" or session.get_nested_transaction():
        return False
    return not session.connection().in_nested_transaction()


@event.listens_for(Session, "after_soft_rollback")
def _discard_rolled_back(session: Session, previous: SessionTransaction) -> None:
    buf = _buffer(session)
    if buf is None:
        return
    scope: SessionTransaction | None = previous  # what the database rolled back: the enclosing savepoint or root
    while scope is not None and not (scope.nested or scope.parent is None):
        scope = scope.parent
    if scope is None:
        return
    kept = []
    for entry in buf.entries:
        if _within(entry.recorded_in, scope):
            continue  # recorded inside what was rolled back
        if entry.written_in is not None and _within(entry.written_in, scope):
            entry.written_in = None  # its row was rolled back, but the event stands: write it again
            buf.unwritten += 1
        kept.append(entry)
    buf.entries = kept


@event.listens_for(Session, "after_transaction_end")
def _forget_head(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint or transaction ended (committed or rolled back): read the head afresh next time.
    session.info.pop(_HEAD_KEY, None)
    if transaction.parent is None:
        session.info.pop(_BUFFER_KEY, None)


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    events: int
    last_seq: int
    first_broken_seq: int | None
    problem: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"intact": self.intact, "events": self.events, "last_seq": self.last_seq,
                "first_broken_seq": self.first_broken_seq, "problem": self.problem}


def _rows(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        chunk = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq
        session.expunge_all()


def verify_chain(session: Session, on_progress: Callable[[int], None] | None = None) -> ChainReport:
    """Recompute every hash; name the first sequence number where the chain breaks.

    ``on_progress(events_checked)`` is called every 1000 events (the CLI's progress bar)."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for row in _rows(session):
        count += 1
        if on_progress is not None and count % 1000 == 0:
            on_progress(count)
        if row.seq != expected_seq:
            return ChainReport(False, count, row.seq, expected_seq,
                               f"sequence {expected_seq} is missing (next present is {row.seq})")
        if row.prev_hash != prev:
            return ChainReport(False, count, row.seq, row.seq,
                               f"event {row.seq} does not follow event {row.seq - 1} (previous-hash mismatch)")
        if event_hash(prev, _event_fields(row)) != row.hash:
            return ChainReport(False, count, row.seq, row.seq, f"event {row.seq} was altered (hash mismatch)")
        prev = row.hash
        expected_seq += 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is not None and head.last_seq != expected_seq - 1:
        return ChainReport(False, count, expected_seq - 1, expected_seq,
                           f"events after {expected_seq - 1} are missing (head says {head.last_seq})")
    if head is not None and head.last_hash != prev:
        return ChainReport(False, count, expected_seq - 1, expected_seq - 1, "chain head hash does not match")
    return ChainReport(True, count, expected_seq - 1, None, None)

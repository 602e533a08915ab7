"""Write and verify the audit chain. ``record`` runs inside the caller's transaction (flush only)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from pxm.platform.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow


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


_HEAD_KEY = "pxm_audit_head"


@event.listens_for(Session, "after_transaction_end")
def _forget_head(session: Session, _transaction: object) -> None:
    # A savepoint or transaction ended (committed or rolled back): read the head afresh next time.
    session.info.pop(_HEAD_KEY, None)


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
    """Append one event to the chain in the current transaction. ``details`` must not hold PHI.

    The first event of a transaction locks the head row (a row lock on PostgreSQL; SQLite's write lock is
    already held), so no other writer can extend the chain until this transaction ends; later events in the
    same transaction reuse the head they already hold. Plain Core statements keep this off the ORM flush.
    """
    head = session.info.get(_HEAD_KEY)
    if head is None:
        row = session.execute(
            update(AuditHead).where(AuditHead.id == 1).values(last_seq=AuditHead.last_seq)
            .returning(AuditHead.last_seq, AuditHead.last_hash)
        ).first()
        if row is None:
            raise RuntimeError("audit_head row missing: run `pxm db upgrade`")
        head = (int(row[0]), str(row[1]))
    seq, prev_hash = head[0] + 1, head[1]
    event = AuditEvent(
        seq=seq, occurred_at=utcnow(), actor=actor.label, action=action,
        resource_type=resource_type, resource_id=None if resource_id is None else str(resource_id),
        patient_id=patient_id, outcome=outcome, request_id=actor.request_id,
        details=details or {}, prev_hash=prev_hash,
    )
    event.hash = event_hash(prev_hash, _event_fields(event))
    session.execute(insert(AuditEvent).values(
        seq=event.seq, occurred_at=event.occurred_at, actor=event.actor, action=event.action,
        resource_type=event.resource_type, resource_id=event.resource_id, patient_id=event.patient_id,
        outcome=event.outcome, request_id=event.request_id, details=event.details,
        prev_hash=event.prev_hash, hash=event.hash,
    ))
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_seq=seq, last_hash=event.hash))
    session.info[_HEAD_KEY] = (seq, event.hash)
    return event


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

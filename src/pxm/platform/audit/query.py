"""Reading the audit log: filtered, newest first. Events hold ids, never PHI, so reading them is not audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pxm.platform.audit.models import AuditEvent


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: dt.datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: int | None
    outcome: str
    request_id: str | None
    details: dict[str, Any]
    hash: str


class AuditFilter(BaseModel):
    patient_id: int | None = None
    action: str | None = None
    actor: str | None = None
    resource_type: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _statement(f: AuditFilter) -> Select[Any]:
    stmt = select(AuditEvent)
    if f.patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == f.patient_id)
    if f.action:
        # "patient.*" matches every patient action
        stmt = stmt.where(AuditEvent.action.like(f.action[:-1] + "%") if f.action.endswith("*")
                          else AuditEvent.action == f.action)
    if f.actor:
        stmt = stmt.where(AuditEvent.actor == f.actor)
    if f.resource_type:
        stmt = stmt.where(AuditEvent.resource_type == f.resource_type)
    if f.since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < f.until)
    return stmt


def list_events(session: Session, f: AuditFilter, limit: int = 50, offset: int = 0
                ) -> tuple[list[AuditEventRead], int]:
    """A page of events matching ``f`` (newest first) and the total that match."""
    stmt = _statement(f)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)).scalars().all()
    return [AuditEventRead.model_validate(r) for r in rows], int(total)


def event_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())

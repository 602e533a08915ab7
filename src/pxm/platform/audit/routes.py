"""JSON API for the audit log: ``GET /api/v1/audit/events`` (filtered page) and ``GET /api/v1/audit/verify``."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from pxm.platform.audit.query import AuditEventRead, AuditFilter, list_events
from pxm.platform.audit.service import verify_chain
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
AuditRead = Depends(require(Permission.audit_read))


class ChainStatus(BaseModel):
    intact: bool
    events: int
    last_seq: int
    first_broken_seq: int | None
    problem: str | None


@router.get("/events", response_model=Page[AuditEventRead], summary="Audit events, newest first")
def events(
    db: Session = DB, actor: Actor = AuditRead, params: PageParams = Depends(page_params),
    patient_id: int | None = Query(None, ge=1, description="events about this patient id"),
    action: str | None = Query(None, max_length=80, description="exact action, or a prefix ending in * "
                                                                "(patient.*)"),
    actor_label: str | None = Query(None, alias="actor", max_length=120, description="e.g. user:alice"),
    resource_type: str | None = Query(None, max_length=60),
    since: dt.datetime | None = Query(None, description="ISO 8601 with a time zone, inclusive"),
    until: dt.datetime | None = Query(None, description="ISO 8601 with a time zone, exclusive"),
) -> Page[AuditEventRead]:
    f = AuditFilter(patient_id=patient_id, action=action, actor=actor_label, resource_type=resource_type,
                    since=_aware(since), until=_aware(until))
    items, total = list_events(db, f, params.limit, params.offset)
    return Page[AuditEventRead](items=items, total=total, limit=params.limit, offset=params.offset)


@router.get("/verify", response_model=ChainStatus, summary="Recompute the hash chain")
def verify(db: Session = DB, actor: Actor = AuditRead) -> ChainStatus:
    return ChainStatus(**verify_chain(db).to_dict())


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """Times without a zone are read as UTC (the zone the log is kept in)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value

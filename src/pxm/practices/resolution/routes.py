"""JSON API of the service desk under /api/v1: contacts, cases, escalations, FCR and contact-centre metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import GATE_SECURITY, Gate, require
from pxm.platform.auth.deps import gate as gate_for
from pxm.platform.auth.permissions import Permission
from pxm.platform.config import Settings
from pxm.platform.db.base import utcnow
from pxm.platform.http.body import json_body_doc, parse_body
from pxm.platform.http.deps import DB, commit_now, get_settings_dep, run_write
from pxm.platform.http.errors import BadRequest
from pxm.platform.http.idempotency import (
    IDEMPOTENCY_KEY_DOC,
    idempotency_key,
    idempotency_key_of,
    run_idempotent,
)
from pxm.platform.http.pagination import Page, PageParams, page_params
from pxm.practices.resolution import escalations, fcr, metrics, queries, service
from pxm.practices.resolution.models import CaseStatus, Contact, Priority
from pxm.practices.resolution.schemas import (
    AcknowledgeBody,
    CaseDetail,
    CaseEventRead,
    CaseRead,
    CaseTransition,
    CaseUpdate,
    ContactCreate,
    ContactRead,
    EscalationRead,
    NoteCreate,
)

router = APIRouter(prefix="/api/v1", tags=["service desk"])

ContactsRead = Depends(require(Permission.contacts_read))
ContactsWrite = Depends(require(Permission.contacts_write))
CasesRead = Depends(require(Permission.cases_read))
CasesWrite = Depends(require(Permission.cases_write))
MetricsRead = Depends(require(Permission.metrics_read))
BY_PATTERN = fcr.BY_PATTERN


@router.post("/contacts", status_code=201, response_model=ContactRead,
             openapi_extra={**json_body_doc(ContactCreate), **GATE_SECURITY, **IDEMPOTENCY_KEY_DOC},
             summary="Log a contact (attaches to the patient's open case for the reason, or opens one)")
async def create_contact(request: Request, gate: Gate = Depends(gate_for(Permission.contacts_write))) -> Response:
    # The desk's busiest write: authentication, validation, the work and the commit run in one thread-pool
    # call (401/403 before 422, as for any route), and on SQLite the single writer is let go before the
    # response is built and the event loop resumes. One flat dependency (``gate``): the body and the
    # Idempotency-Key header are read here, and documented by ``openapi_extra``.
    raw = await request.body()
    return await run_write(request, lambda db: _create_contact(db, request, raw, gate))


def _create_contact(db: Session, request: Request, raw: bytes, gate: Gate) -> Response:
    try:
        body = parse_body(ContactCreate, raw)
        key = idempotency_key_of(request)
    except RequestValidationError:
        gate.actor(db)  # 401 and 403 before 422
        raise
    if body.case_id is None and key is None:  # its first lookup goes with the token's (one round trip on
        # PostgreSQL); with a key, the lookup of the key's record in between would drop it (and a replay needs none)
        service.read_ahead_for_contact(db, body.patient_id, body.reason, body.started_at)
    actor = gate.actor(db)

    def log() -> Contact:
        data = body.model_dump()
        data["channel"], data["direction"] = body.channel.value, body.direction.value
        return service.log_contact(db, actor, **data)

    if key is not None:
        return run_idempotent(db, actor, request, key, body, lambda: ContactRead.model_validate(log()))
    contact = log()
    commit_now(db)
    # the same bytes JSONResponse would render from model_dump(mode="json"), serialized by pydantic in one step
    return Response(ContactRead.model_validate(contact).model_dump_json(), status_code=201,
                    media_type="application/json")


@router.get("/contacts", response_model=Page[ContactRead], summary="List contacts (newest first)")
def list_contacts(patient_id: int | None = Query(None, ge=1), case_id: int | None = Query(None, ge=1),
                  agent_id: int | None = Query(None, ge=1),
                  started_from: dt.datetime | None = Query(None, alias="from"),
                  started_to: dt.datetime | None = Query(None, alias="to"),
                  params: PageParams = Depends(page_params), db: Session = DB,
                  actor: Actor = ContactsRead) -> Page[ContactRead]:
    rows, total = queries.list_contacts(db, params, patient_id=patient_id, case_id=case_id, agent_id=agent_id,
                                        start=started_from, end=started_to)
    return Page(items=[ContactRead.model_validate(r) for r in rows], total=total, limit=params.limit,
                offset=params.offset)


@router.get("/cases", response_model=Page[CaseRead], summary="List cases (filters; newest opened or soonest due first)")
def list_cases(status: list[CaseStatus] | None = Query(None), reason: str | None = Query(None, max_length=40),
               priority: Priority | None = None, assigned_staff_id: int | None = Query(None, ge=1),
               patient_id: int | None = Query(None, ge=1), team: str | None = Query(None, max_length=80),
               breached: bool | None = None,
               unassigned: bool = Query(False, description="only cases nobody is assigned to (the queue)"),
               order: str = Query("opened", pattern="^(" + "|".join(queries.CASE_ORDERS) + ")$",
                                  description="opened: newest opened first; due: soonest resolution due first"),
               params: PageParams = Depends(page_params),
               db: Session = DB, actor: Actor = CasesRead) -> Page[CaseRead]:
    if unassigned and assigned_staff_id is not None:
        raise BadRequest("give assigned_staff_id or unassigned=true, not both")
    rows, total = queries.list_cases(db, params, status=[s.value for s in status] if status else None,
                                     reason=reason, priority=priority.value if priority else None,
                                     assigned_staff_id=assigned_staff_id, patient_id=patient_id, team=team,
                                     breached=breached, unassigned=unassigned, order=order)
    return Page(items=[CaseRead.model_validate(r) for r in rows], total=total, limit=params.limit,
                offset=params.offset)


def _detail(db: Session, case_id: int) -> CaseDetail:
    case = service.get_case(db, case_id)
    events, contacts = queries.case_history(db, case_id)
    return CaseDetail(**CaseRead.model_validate(case).model_dump(),
                      events=[CaseEventRead.model_validate(e) for e in events],
                      contacts=[ContactRead.model_validate(c) for c in contacts])


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="A case with its events and contacts")
def get_case(case_id: int, db: Session = DB, actor: Actor = CasesRead) -> CaseDetail:
    return _detail(db, case_id)


@router.patch("/cases/{case_id}", response_model=CaseRead, summary="Change a case's priority, summary or team")
def patch_case(case_id: int, body: CaseUpdate, db: Session = DB,
               actor: Actor = CasesWrite) -> CaseRead:
    case = service.update_case(db, actor, case_id, priority=body.priority.value if body.priority else None,
                               summary=body.summary, team=body.team)
    return CaseRead.model_validate(case)


@router.post("/cases/{case_id}/transition", response_model=CaseRead,
             summary="Move a case to another status (resolving needs a resolution_code)")
def transition_case(case_id: int, body: CaseTransition, db: Session = DB,
                    actor: Actor = CasesWrite) -> CaseRead:
    case = service.transition(db, actor, case_id, body.to_status.value, note=body.note,
                              resolution_code=body.resolution_code)
    return CaseRead.model_validate(case)


@router.post("/cases/{case_id}/notes", status_code=201, response_model=CaseEventRead, summary="Add a note")
def add_note(case_id: int, body: NoteCreate, request: Request, db: Session = DB,
             actor: Actor = CasesWrite, key: str | None = Depends(idempotency_key)) -> JSONResponse:
    return run_idempotent(db, actor, request, key, body,
                          lambda: CaseEventRead.model_validate(service.add_note(db, actor, case_id, body.text)))


@router.get("/escalations", response_model=Page[EscalationRead],
            summary="SLA escalations, newest first (by default those not yet acknowledged)")
def list_escalations(state: str = Query("open", pattern=escalations.STATE_PATTERN,
                                       description="open: not yet acknowledged; acknowledged; all"),
                     supervisor_staff_id: int | None = Query(None, ge=1),
                     params: PageParams = Depends(page_params), db: Session = DB,
                     actor: Actor = CasesRead) -> Page[EscalationRead]:
    rows, total = escalations.list_escalations(db, params, acknowledged=escalations.STATES[state],
                                               supervisor_staff_id=supervisor_staff_id)
    return Page(items=[EscalationRead.model_validate(e) for e, _ in rows], total=total, limit=params.limit,
                offset=params.offset)


@router.post("/escalations/{escalation_id}/acknowledge", response_model=EscalationRead,
             summary="A supervisor acknowledges an SLA escalation (audited; the note goes in the case's history)")
def acknowledge_escalation(escalation_id: int, body: AcknowledgeBody | None = None, db: Session = DB,
                           actor: Actor = Depends(require(Permission.cases_assign))) -> EscalationRead:
    return EscalationRead.model_validate(
        escalations.acknowledge(db, actor, escalation_id, note=body.note if body else None))


def _as_of(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return utcnow()
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@router.get("/metrics/fcr", summary="First contact resolution (see docs/service-desk.md for the definition)")
def fcr_metric(start: dt.date | None = Query(None, alias="from"), end: dt.date | None = Query(None, alias="to"),
               window_days: int = Query(7, ge=1, le=365), by: str | None = Query(None, pattern=BY_PATTERN),
               as_of: dt.datetime | None = None, db: Session = DB,
               settings: Settings = Depends(get_settings_dep), actor: Actor = MetricsRead) -> dict[str, Any]:
    return fcr.fcr_report(db, window_days=window_days, as_of=_as_of(as_of), start=start, end=end, by=by,
                          tz=settings.timezone)


@router.get("/metrics/fcr/repeats", summary="Cases counted not-FCR because of a repeat contact (drill-down)")
def fcr_repeats(start: dt.date | None = Query(None, alias="from"), end: dt.date | None = Query(None, alias="to"),
                window_days: int = Query(7, ge=1, le=365), by: str | None = Query(None, pattern=BY_PATTERN),
                key: str | None = Query(None, max_length=120), as_of: dt.datetime | None = None,
                db: Session = DB, settings: Settings = Depends(get_settings_dep),
                actor: Actor = MetricsRead) -> dict[str, Any]:
    hits = fcr.repeat_cases(db, window_days=window_days, as_of=_as_of(as_of), start=start, end=end, by=by,
                            key=key, tz=settings.timezone)
    return {"items": [{"case_id": o.case_id, "first_contact_id": o.first_contact_id,
                       "started_at": o.started_at.isoformat(), "reason": o.reason, "channel": o.channel,
                       "agent_id": o.agent_id, "repeat_contact_ids": o.repeat_contact_ids} for o in hits],
            "total": len(hits)}


@router.get("/metrics/contacts", summary="AHT, ASA, abandonment, service level, repeat rate")
def contacts_metric(start: dt.date | None = Query(None, alias="from"), end: dt.date | None = Query(None, alias="to"),
                    by: str | None = Query(None, pattern=BY_PATTERN), window_days: int = Query(7, ge=1, le=365),
                    service_level_seconds: int = Query(20, ge=1, le=3600), as_of: dt.datetime | None = None,
                    db: Session = DB, settings: Settings = Depends(get_settings_dep),
                    actor: Actor = MetricsRead) -> dict[str, Any]:
    return metrics.contacts_report(db, as_of=_as_of(as_of), start=start, end=end, by=by, window_days=window_days,
                                   service_level_seconds=service_level_seconds, tz=settings.timezone)

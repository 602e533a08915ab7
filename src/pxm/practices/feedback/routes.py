"""JSON API of surveys: instruments, responses (JSON and FHIR), invitations, outbox, metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.config import Settings
from pxm.platform.http.deps import DB, get_settings_dep
from pxm.platform.http.errors import BadRequest, NotFound
from pxm.platform.http.idempotency import idempotency_key, run_idempotent
from pxm.platform.http.pagination import Page, PageParams, page_params, paginate
from pxm.practices.feedback import fhir, invitations, metrics, service
from pxm.practices.feedback.models import Instrument, Invitation, MessageOutbox, Response
from pxm.practices.feedback.schemas import (
    DischargeScan,
    InstrumentDetail,
    InstrumentRead,
    InvitationRead,
    OutboxRead,
    ResponseCreate,
    ResponseDetail,
    ResponseRead,
    WaveCreate,
    response_read,
)

router = APIRouter(prefix="/api/v1", tags=["feedback"])
SurveysRead = Depends(require(Permission.surveys_read))
SurveysManage = Depends(require(Permission.surveys_manage))
ResponsesRead = Depends(require(Permission.responses_read))
ResponsesWrite = Depends(require(Permission.responses_write))
MetricsRead = Depends(require(Permission.metrics_read))
FHIR_JSON = "application/fhir+json"


@router.get("/feedback/instruments", response_model=list[InstrumentRead], summary="Survey instruments (all versions)")
def list_instruments(db: Session = DB, actor: Actor = SurveysRead) -> list[Instrument]:
    return service.list_instruments(db)


@router.get("/feedback/instruments/{instrument_id}", response_model=InstrumentDetail)
def get_instrument(instrument_id: int, db: Session = DB, actor: Actor = SurveysRead) -> Instrument:
    row = db.get(Instrument, instrument_id)
    if row is None:
        raise NotFound("instrument", instrument_id)
    return row


@router.post("/feedback/instruments", status_code=201, response_model=InstrumentDetail,
             summary="Add a new instrument version (the definition JSON); it becomes the active version")
def create_instrument(definition: dict[str, Any] = Body(...), db: Session = DB,
                      actor: Actor = SurveysManage) -> Instrument:
    return service.create_instrument_version(db, actor, definition)


@router.get("/fhir/Questionnaire/{instrument_id}", summary="An instrument version as a FHIR R4 Questionnaire")
def fhir_questionnaire(instrument_id: int, db: Session = DB, actor: Actor = SurveysRead) -> JSONResponse:
    row = db.get(Instrument, instrument_id)
    if row is None:
        raise NotFound("instrument", instrument_id)
    return JSONResponse(fhir.to_questionnaire(row), media_type=FHIR_JSON)


@router.post("/fhir/Questionnaire", status_code=201, response_model=InstrumentDetail,
             summary="Import a FHIR R4 Questionnaire as a new instrument version")
def fhir_questionnaire_import(resource: dict[str, Any] = Body(...), db: Session = DB,
                              actor: Actor = SurveysManage) -> Instrument:
    return service.create_instrument_version(db, actor, fhir.from_questionnaire(resource))


@router.post("/responses", status_code=201, response_model=ResponseRead, summary="Record a survey response")
def create_response(body: ResponseCreate, request: Request, db: Session = DB,
                    actor: Actor = ResponsesWrite, key: str | None = Depends(idempotency_key)) -> JSONResponse:
    def create() -> ResponseRead:
        inst = service.get_instrument(db, body.instrument, body.version)
        data = body.model_dump(exclude={"instrument", "version"})
        row = service.record_response(db, actor, instrument=inst, source="api", **data)
        return response_read(row)

    return run_idempotent(db, actor, request, key, body.model_dump(mode="json"), create)


@router.get("/responses", response_model=Page[ResponseRead], summary="Responses, newest first (no free text)")
def list_responses(instrument: str | None = Query(None, max_length=40), db: Session = DB,
                   params: PageParams = Depends(page_params), actor: Actor = ResponsesRead) -> dict[str, Any]:
    q = select(Response).options(defer(Response.comment), defer(Response.text_answers))
    if instrument:
        q = q.join(Instrument, Instrument.id == Response.instrument_id).where(Instrument.code == instrument)
    q = q.order_by(Response.submitted_at.desc(), Response.id.desc())
    rows, total = paginate(db, q, params)
    with_text = set(db.execute(select(Response.id).where(Response.id.in_([r.id for r in rows]),
                                                         Response.comment.is_not(None))).scalars())
    items = []
    for r in rows:
        item = ResponseRead.model_validate(r)
        item.has_comment = r.id in with_text
        items.append(item)
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}


@router.get("/responses/{response_id}", response_model=ResponseDetail,
            summary="One response with its free-text answers (the read is audited)")
def get_response(response_id: int, db: Session = DB, actor: Actor = ResponsesRead) -> ResponseDetail:
    row = service.get_response(db, response_id)
    out = ResponseDetail(**response_read(row).model_dump())
    out.text_answers = service.read_response_text(db, actor, row) if row.text_answers else {}
    return out


@router.get("/fhir/QuestionnaireResponse/{response_id}", summary="A response as a FHIR R4 QuestionnaireResponse")
def fhir_response(response_id: int, db: Session = DB, actor: Actor = ResponsesRead) -> JSONResponse:
    row = service.get_response(db, response_id)
    return JSONResponse(fhir.to_questionnaire_response(db, actor, row), media_type=FHIR_JSON)


@router.post("/fhir/QuestionnaireResponse", status_code=201,
             summary="Import a FHIR R4 QuestionnaireResponse, or a Bundle of them (all or nothing)")
def fhir_response_import(resource: dict[str, Any] = Body(...), db: Session = DB,
                         actor: Actor = ResponsesWrite) -> dict[str, Any]:
    kind = resource.get("resourceType")
    if kind == "Bundle":
        rows = fhir.import_bundle(db, actor, resource)
    elif kind == "QuestionnaireResponse":
        rows = [fhir.import_questionnaire_response(db, actor, resource)]
    else:
        raise BadRequest("resourceType must be QuestionnaireResponse or Bundle")
    return {"created": [r.id for r in rows]}


@router.post("/fhir/Bundle", status_code=201, summary="Import a Bundle of QuestionnaireResponses (all or nothing)")
def fhir_bundle_import(resource: dict[str, Any] = Body(...), db: Session = DB,
                       actor: Actor = ResponsesWrite) -> dict[str, Any]:
    return {"created": [r.id for r in fhir.import_bundle(db, actor, resource)]}


def _filters(start: dt.date | None, end: dt.date | None, instrument: str | None) -> metrics.Filters:
    if start and end and end < start:
        raise BadRequest("to must not be before from")
    return metrics.Filters(
        start=dt.datetime.combine(start, dt.time(), dt.UTC) if start else None,
        end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC) if end else None,
        instrument=instrument)


@router.get("/feedback/metrics/{metric}", summary="Survey metrics: nps, csat, topbox or fcr (survey-based FCR)")
def get_metric(metric: str, by: str | None = Query(None, max_length=20),
               start: dt.date | None = Query(None, alias="from", description="first day, YYYY-MM-DD"),
               end: dt.date | None = Query(None, alias="to", description="last day (inclusive), YYYY-MM-DD"),
               instrument: str | None = Query(None, max_length=40), db: Session = DB,
               actor: Actor = MetricsRead) -> dict[str, Any]:
    fn = metrics.METRICS.get(metric)
    if fn is None:
        raise NotFound(f"metric {metric!r} (use {', '.join(metrics.METRICS)})")
    return fn(db, _filters(start, end, instrument), by=by)


@router.get("/feedback/invitations", response_model=Page[InvitationRead])
def list_invitations(status: str | None = Query(None, max_length=16), db: Session = DB,
                     params: PageParams = Depends(page_params), actor: Actor = SurveysRead) -> dict[str, Any]:
    q = select(Invitation).order_by(Invitation.id.desc())
    if status:
        q = q.where(Invitation.status == status)
    rows, total = paginate(db, q, params)
    return {"items": rows, "total": total, "limit": params.limit, "offset": params.offset}


@router.post("/feedback/invitations/waves", status_code=201, summary="Invite a segment (consent and fatigue apply)")
def create_wave(body: WaveCreate, db: Session = DB, settings: Settings = Depends(get_settings_dep),
                actor: Actor = SurveysManage) -> dict[str, Any]:
    counts = invitations.send_wave(db, actor, instrument=body.instrument, segment=body.segment, wave=body.wave,
                                   policy=invitations.InvitationPolicy.from_settings(settings))
    return {"wave": body.wave, "invitations": counts}


@router.post("/feedback/invitations/scan", status_code=201,
             summary="Invite for encounters discharged and cases resolved in a period (each event invites once)")
def invite_scan(body: DischargeScan, db: Session = DB,
                settings: Settings = Depends(get_settings_dep), actor: Actor = SurveysManage) -> dict[str, Any]:
    policy = invitations.InvitationPolicy.from_settings(settings)
    rows = invitations.invite_discharged(db, actor, since=body.since, until=body.until, policy=policy)
    rows += invitations.invite_resolved_cases(db, actor, since=body.since, until=body.until, policy=policy)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {"invitations": counts}


@router.get("/feedback/outbox", response_model=Page[OutboxRead], summary="Messages sent or recorded (no PHI)")
def list_outbox(db: Session = DB, params: PageParams = Depends(page_params),
                actor: Actor = SurveysManage) -> dict[str, Any]:
    rows, total = paginate(db, select(MessageOutbox).order_by(MessageOutbox.id.desc()), params)
    return {"items": rows, "total": total, "limit": params.limit, "offset": params.offset}

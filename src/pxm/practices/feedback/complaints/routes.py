"""JSON API for complaints and compliments under /api/v1/complaints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.idempotency import idempotency_key, run_idempotent
from pxm.platform.http.pagination import PageParams, page_params
from pxm.practices.feedback.complaints import service

router = APIRouter(prefix="/api/v1", tags=["complaints"])
Read = Depends(require(Permission.complaints_read))
Write = Depends(require(Permission.complaints_write))


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["complaint", "compliment"] = "complaint"
    channel: str = Field(max_length=16, description="phone, email, letter, portal, in_person, survey, social, other")
    category: str = Field(max_length=40, description="e.g. wait_time, staff_attitude, billing, clinical_care")
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    complex: bool = False
    description: str = Field(min_length=1, max_length=20000)
    patient_id: int | None = None
    encounter_id: int | None = None
    department_id: int | None = None
    received_at: dt.datetime | None = None


class ComplaintUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["received", "acknowledged", "investigating", "resolved", "closed"] | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None
    category: str | None = Field(None, max_length=40)
    complex: bool | None = None
    outcome_letter: str | None = Field(None, max_length=20000)


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    acknowledge_days: int | None = None
    standard_days: int | None = None
    complex_days: int | None = None


def _settings_view(row: Any) -> dict[str, Any]:
    return {"acknowledge_days": row.acknowledge_days, "standard_days": row.standard_days,
            "complex_days": row.complex_days, "updated_by": row.updated_by, "updated_at": row.updated_at}


@router.post("/complaints", status_code=201, summary="Record a complaint or compliment (opens a recovery case)")
def create(body: ComplaintCreate, request: Request, db: Session = DB, actor: Actor = Write,
           key: str | None = Depends(idempotency_key)) -> JSONResponse:
    def make() -> dict[str, Any]:
        row = service.create_complaint(
            db, actor, kind=body.kind, channel=body.channel, category=body.category, severity=body.severity,
            complex_=body.complex, description=body.description, patient_id=body.patient_id,
            encounter_id=body.encounter_id, department_id=body.department_id, received_at=body.received_at)
        return service.complaint_view(row)

    return run_idempotent(db, actor, request, key, body, make)


@router.get("/complaints", summary="Complaints and compliments, newest first (masked descriptions)")
def list_(db: Session = DB, actor: Actor = Read, params: PageParams = Depends(page_params),
          status: str | None = Query(None, max_length=16), kind: str | None = Query(None, max_length=12),
          overdue: bool | None = None) -> dict[str, Any]:
    rows, total = service.list_complaints(db, params, status=status, kind=kind, overdue=overdue)
    return {"items": [service.complaint_view(r) for r in rows], "total": total, "limit": params.limit,
            "offset": params.offset}


@router.get("/complaints/board", summary="Complaints by status with overdue flags")
def board(db: Session = DB, actor: Actor = Read) -> dict[str, Any]:
    return service.board(db)


@router.get("/complaints/settings", summary="Due-date policy (days to acknowledge / resolve)")
def get_settings(db: Session = DB, actor: Actor = Read) -> dict[str, Any]:
    return _settings_view(service.get_settings(db))


@router.patch("/complaints/settings", summary="Change the due-date policy (applies to new complaints)")
def patch_settings(body: SettingsUpdate, db: Session = DB,
                   actor: Actor = Depends(require(Permission.surveys_manage))) -> dict[str, Any]:
    return _settings_view(service.update_settings(db, actor, acknowledge_days=body.acknowledge_days,
                                                  standard_days=body.standard_days, complex_days=body.complex_days))


@router.get("/complaints/{complaint_id}", summary="One complaint (masked description)")
def get(complaint_id: int, db: Session = DB, actor: Actor = Read) -> dict[str, Any]:
    return service.complaint_view(service.get_complaint(db, complaint_id))


@router.post("/complaints/{complaint_id}/text", summary="The unmasked description and outcome letter (audited)")
def text(complaint_id: int, db: Session = DB,
         actor: Actor = Depends(require(Permission.patients_read))) -> dict[str, Any]:
    return service.read_complaint_text(db, actor, complaint_id)


@router.patch("/complaints/{complaint_id}", summary="Move a complaint along or edit it")
def patch(complaint_id: int, body: ComplaintUpdate, db: Session = DB,
          actor: Actor = Write) -> dict[str, Any]:
    row = service.update_complaint(db, actor, complaint_id, status=body.status, severity=body.severity,
                                   category=body.category, complex_=body.complex, outcome_letter=body.outcome_letter)
    return service.complaint_view(row)

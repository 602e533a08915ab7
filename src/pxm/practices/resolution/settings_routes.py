"""JSON API of the service desk settings under /api/v1/desk: SLA policies, business calendars, contact reasons.

Reading needs ``cases:read``; changing needs ``desk:configure``. The service (``settings.py``) validates and audits;
the shapes here only check types, so one set of rules and messages serves the API and the settings page.
Changes apply to cases opened afterwards; existing due times are not recomputed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import BadRequest
from pxm.platform.http.idempotency import idempotency_key, run_idempotent
from pxm.practices.resolution import settings
from pxm.practices.resolution.models import BusinessCalendar, ContactReason, SlaPolicy

router = APIRouter(prefix="/api/v1/desk", tags=["service desk settings"])
SettingsRead = Depends(require(Permission.cases_read))
SettingsWrite = Depends(require(Permission.desk_configure))


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    reason: str | None = Field(description="null: any reason")
    priority: str | None = Field(description="null: any priority")
    first_response_minutes: int
    resolution_minutes: int
    business_hours: bool = Field(description="count only the calendar's open hours (else around the clock)")
    active: bool
    lookup_step: int = Field(description="1 reason+priority, 2 reason, 3 priority, 4 default: the first active "
                                         "match wins")


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str | None = Field(None, max_length=40, description="a contact reason code; null for any")
    priority: str | None = Field(None, max_length=10, description="low, normal, high, urgent; null for any")
    first_response_minutes: int
    resolution_minutes: int
    business_hours: bool = True


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str | None = Field(None, max_length=40)
    priority: str | None = Field(None, max_length=10)
    first_response_minutes: int | None = None
    resolution_minutes: int | None = None
    business_hours: bool | None = None
    active: bool | None = Field(None, description="false deactivates the policy, true reactivates it")


class CalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    facility_id: int | None = Field(description="null: the default calendar")
    name: str
    timezone: str
    hours: dict[str, list[str]] = Field(description='ISO weekday ("1" Monday) -> ["08:00", "17:00"]; '
                                                    "a missing day is closed")
    holidays: list[str]


class CalendarUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=120)
    timezone: str | None = Field(None, max_length=64, description="IANA zone, e.g. America/New_York")
    hours: dict[str, Any] | None = Field(None, description="the whole week: days left out are closed")
    holidays: list[Any] | None = Field(None, description="the whole list of ISO dates")


class ReasonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    label: str
    active: bool
    sort_order: int


class ReasonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=40, description="^[a-z][a-z0-9_]{1,39}$")
    label: str = Field(max_length=120)


class ReasonUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str | None = Field(None, max_length=120)
    active: bool | None = Field(None, description="false deactivates (a reason in use cannot be deleted)")


def _policy(row: SlaPolicy) -> PolicyRead:
    return PolicyRead(**settings.policy_values(row), id=row.id, lookup_step=settings.lookup_step(row))


def _changes(body: BaseModel) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    if not values:
        raise BadRequest("give at least one field to change")
    return values


@router.get("/sla-policies", response_model=list[PolicyRead], summary="SLA policies in lookup order")
def list_policies(db: Session = DB, actor: Actor = SettingsRead) -> list[PolicyRead]:
    return [_policy(p) for p in settings.list_policies(db)]


@router.post("/sla-policies", status_code=201, response_model=PolicyRead,
             summary="Add an SLA policy (applies to cases opened from now on; audited)")
def create_policy(body: PolicyCreate, request: Request, db: Session = DB, actor: Actor = SettingsWrite,
                  key: str | None = Depends(idempotency_key)) -> JSONResponse:
    return run_idempotent(db, actor, request, key, body,
                          lambda: _policy(settings.create_policy(db, actor, **body.model_dump())))


@router.patch("/sla-policies/{policy_id}", response_model=PolicyRead,
              summary="Change, deactivate (active=false) or reactivate an SLA policy (audited)")
def update_policy(policy_id: int, body: PolicyUpdate, db: Session = DB,
                  actor: Actor = SettingsWrite) -> PolicyRead:
    return _policy(settings.update_policy(db, actor, policy_id, **_changes(body)))


@router.get("/calendars", response_model=list[CalendarRead], summary="Business calendars (default first)")
def list_calendars(db: Session = DB, actor: Actor = SettingsRead) -> list[CalendarRead]:
    return [CalendarRead.model_validate(c) for c in settings.list_calendars(db)]


@router.patch("/calendars/{calendar_id}", response_model=CalendarRead,
              summary="Change a calendar's name, time zone, weekly hours or holidays (audited)")
def update_calendar(calendar_id: int, body: CalendarUpdate, db: Session = DB,
                    actor: Actor = SettingsWrite) -> CalendarRead:
    cal: BusinessCalendar = settings.update_calendar(db, actor, calendar_id, **_changes(body))
    return CalendarRead.model_validate(cal)


@router.get("/reasons", response_model=list[ReasonRead], summary="Contact reasons, active and inactive")
def list_reasons(db: Session = DB, actor: Actor = SettingsRead) -> list[ReasonRead]:
    return [ReasonRead.model_validate(r) for r in settings.list_reasons(db)]


@router.post("/reasons", status_code=201, response_model=ReasonRead, summary="Add a contact reason (audited)")
def create_reason(body: ReasonCreate, request: Request, db: Session = DB, actor: Actor = SettingsWrite,
                  key: str | None = Depends(idempotency_key)) -> JSONResponse:
    return run_idempotent(db, actor, request, key, body,
                          lambda: ReasonRead.model_validate(settings.create_reason(db, actor, **body.model_dump())))


@router.patch("/reasons/{code}", response_model=ReasonRead,
              summary="Rename (label), deactivate (active=false) or reactivate a contact reason (audited)")
def update_reason(code: str, body: ReasonUpdate, db: Session = DB,
                  actor: Actor = SettingsWrite) -> ReasonRead:
    row: ContactReason = settings.update_reason(db, actor, code, **_changes(body))
    return ReasonRead.model_validate(row)


@router.delete("/reasons/{code}", status_code=204,
               summary="Delete a contact reason nothing uses (409 when in use: deactivate it instead)")
def delete_reason(code: str, db: Session = DB, actor: Actor = SettingsWrite) -> Response:
    settings.delete_reason(db, actor, code)
    return Response(status_code=204)

"""Pydantic shapes at the service-desk API edge. None of them carries PHI (patients are numeric ids)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pxm.practices.resolution.models import CaseStatus, Channel, Direction, Priority


def _aware(v: dt.datetime | None) -> dt.datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2025-03-03T09:30:00Z")
    return v


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    patient_id: int = Field(ge=1)
    channel: Channel
    direction: Direction
    reason: str = Field(min_length=1, max_length=40)
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    agent_id: int | None = Field(None, ge=1, description="the staff member who handled the contact; a case it "
                                 "opens is theirs (routing assigns only cases nobody has handled yet)")
    case_id: int | None = Field(None, ge=1, description="attach to this case; omit to find or open one")
    resolved: bool = False
    resolution_code: str | None = Field(None, max_length=40)
    queued_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    abandoned: bool = False
    external_id: str | None = Field(None, max_length=80)
    outcome: str | None = Field(None, max_length=40)
    note: str | None = Field(None, max_length=4000)

    _tz = field_validator("started_at", "ended_at", "queued_at", "answered_at")(_aware)


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    external_id: str | None
    patient_id: int
    case_id: int
    channel: str
    direction: str
    reason: str
    agent_id: int | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    queued_at: dt.datetime | None
    answered_at: dt.datetime | None
    abandoned: bool
    resolved: bool
    outcome: str | None


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    external_ref: str | None
    patient_id: int
    reason: str
    priority: str
    status: str
    channel: str | None
    source: str
    team: str | None
    facility_id: int | None
    assigned_staff_id: int | None
    summary: str | None
    opened_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    reopened_count: int
    resolution_code: str | None
    first_response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    first_response_breached: bool
    resolution_breached: bool


class CaseEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: dt.datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    note: str | None
    details: dict[str, Any]


class CaseDetail(CaseRead):
    events: list[CaseEventRead]
    contacts: list[ContactRead]


class CaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    priority: Priority | None = None
    summary: str | None = Field(None, max_length=4000)
    team: str | None = Field(None, max_length=80)


class CaseTransition(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    to_status: CaseStatus
    note: str | None = Field(None, max_length=4000)
    resolution_code: str | None = Field(None, max_length=40)


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(min_length=1, max_length=4000)


class EscalationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    case_id: int
    target: str = Field(description="first_response or resolution: the SLA target the case missed")
    cycle: int = Field(description="0 for the case's first resolution cycle, 1 after its first reopening, ...")
    due_at: dt.datetime
    escalated_at: dt.datetime
    previous_priority: str
    new_priority: str
    supervisor_staff_id: int | None
    acknowledged_at: dt.datetime | None


class AcknowledgeBody(BaseModel):
    note: str | None = Field(None, max_length=500, description="what was done (kept in the case's history)")


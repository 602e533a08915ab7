"""Shapes at the edge of the feedback API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class InstrumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    version: str
    title: str
    active: bool
    created_at: dt.datetime


class InstrumentDetail(InstrumentRead):
    definition: dict[str, Any]


class ResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instrument: str = Field(..., max_length=40, description="instrument code, e.g. pulse, nps, inpatient, cxm")
    version: str | None = Field(None, max_length=40, description="a stored version (default: the active one)")
    answers: dict[str, Any] = Field(..., description="item code -> answer (numbers, yes/no, option values, text)")
    submitted_at: dt.datetime | None = Field(None, description="ISO 8601 with time zone (default: now)")
    external_id: str | None = Field(None, max_length=120, description="your id; a repeat is refused (409)")
    patient_id: int | None = None
    channel: str | None = Field(None, max_length=16)
    language: str = Field("en", max_length=8)
    department_id: int | None = None
    provider_id: int | None = None
    case_id: int | None = None
    contact_id: int | None = None
    status: str = Field("complete", pattern="^(partial|complete)$")


class ResponseRead(BaseModel):
    """A response without its free text (which may hold PHI); ``has_comment`` says whether there is some."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    instrument_id: int
    instrument_version: str
    invitation_id: int | None
    patient_id: int | None
    external_id: str | None
    submitted_at: dt.datetime
    channel: str | None
    language: str
    source: str
    department_id: int | None
    provider_id: int | None
    case_id: int | None
    contact_id: int | None
    answers: dict[str, Any]
    status: str
    has_comment: bool = False


class ResponseDetail(ResponseRead):
    text_answers: dict[str, str] = Field(default_factory=dict, description="free-text answers (read is audited)")


def response_read(row: Any) -> ResponseRead:
    out = ResponseRead.model_validate(row)
    out.has_comment = bool(row.comment)
    return out


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_id: int
    instrument_id: int
    channel: str
    language: str
    status: str
    status_reason: str | None
    trigger: str
    trigger_ref: str | None
    department_id: int | None
    send_after: dt.datetime
    expires_at: dt.datetime
    reminders_sent: int
    sent_at: dt.datetime | None
    responded_at: dt.datetime | None


class WaveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instrument: str = Field(..., max_length=40)
    wave: str = Field(..., min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-.]+$",
                      description="a name for this wave; sending the same wave again adds nothing")
    segment: dict[str, Any] = Field(default_factory=dict,
                                    description="age_band ('18-44'), sex, conditions, language, facility_id")


class DischargeScan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: dt.datetime
    until: dt.datetime | None = None


class OutboxRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    delivery_key: str
    channel: str
    subject: str | None
    language: str
    sender: str | None
    status: str
    error: str | None
    invitation_id: int | None
    created_at: dt.datetime
    sent_at: dt.datetime | None

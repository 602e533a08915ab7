"""Pydantic shapes at the edge of the people service: patients, org units, staff, encounters.

``PatientRead`` carries PHI and is only built by functions that audit the read. ``PatientSummary`` is the
de-identified shape (no names, contact details, MRN, birth date or full ZIP) used by lists and exports.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pxm.platform.people.models import EncounterType, OrgUnitKind, StaffStatus

CHANNELS = ("email", "sms", "phone", "portal", "mail")
SEXES = ("F", "M", "X")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2})?$")
_MRN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,39}$")


def normalize_phone(value: str) -> str:
    """Keep a leading + and the digits; refuse anything with fewer than 7 or more than 15 digits."""
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        raise ValueError("phone must hold 7 to 15 digits, e.g. +1 555 010 0100")
    return ("+" if value.strip().startswith("+") else "") + digits


def _clean_list(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        v = v.strip().lower()
        if v and v not in out:
            out.append(v)
    return out


class _PatientFields(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    @field_validator("mrn", check_fields=False)
    @classmethod
    def _mrn(cls, v: str | None) -> str | None:
        if v is not None and not _MRN.match(v):
            raise ValueError("MRN must be 1-40 letters, digits, '-', '_' or '.'")
        return v

    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not _EMAIL.match(v):
            raise ValueError("email must look like name@example.org")
        return v.lower()

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v is None or v == "" else normalize_phone(v)

    @field_validator("zip_code", check_fields=False)
    @classmethod
    def _zip(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not _ZIP.match(v):
            raise ValueError("zip_code must be 5 digits (or ZIP+4: 12345-6789)")
        return v

    @field_validator("birth_date", check_fields=False)
    @classmethod
    def _birth(cls, v: dt.date | None) -> dt.date | None:
        if v is not None and (v > dt.date.today() or v.year < 1890):
            raise ValueError("birth_date must be a past date after 1890")
        return v

    @field_validator("preferred_language", check_fields=False)
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        if v is not None and not _LANG.match(v):
            raise ValueError("preferred_language must be a language code such as 'en' or 'es'")
        return v

    @field_validator("preferred_channel", check_fields=False)
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        if v is not None and v not in CHANNELS:
            raise ValueError(f"preferred_channel must be one of: {', '.join(CHANNELS)}")
        return v

    @field_validator("sex", check_fields=False)
    @classmethod
    def _sex(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.upper()
        if v not in SEXES:
            raise ValueError("sex must be F, M or X")
        return v

    @field_validator("conditions", check_fields=False)
    @classmethod
    def _conditions(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _clean_list(v)


class PatientCreate(_PatientFields):
    mrn: str = Field(min_length=1, max_length=40)
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    birth_date: dt.date | None = None
    sex: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_language: str = "en"
    preferred_channel: str = "email"
    consent_email: bool = False
    consent_sms: bool = False
    consent_phone: bool = False
    consent_surveys: bool = False
    conditions: list[str] = Field(default_factory=list, max_length=50)
    home_facility_id: int | None = None


class PatientUpdate(_PatientFields):
    mrn: str | None = Field(None, min_length=1, max_length=40)
    given_name: str | None = Field(None, min_length=1, max_length=100)
    family_name: str | None = Field(None, min_length=1, max_length=100)
    birth_date: dt.date | None = None
    sex: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_language: str | None = None
    preferred_channel: str | None = None
    consent_email: bool | None = None
    consent_sms: bool | None = None
    consent_phone: bool | None = None
    consent_surveys: bool | None = None
    conditions: list[str] | None = Field(None, max_length=50)
    home_facility_id: int | None = None


class PatientSummary(BaseModel):
    """De-identified (HIPAA safe-harbor style): no names, contacts, MRN, full dates or full ZIP."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    birth_year: int | None
    sex: str | None
    zip3: str | None
    preferred_language: str
    preferred_channel: str
    conditions: list[str]
    home_facility_id: int | None = None


class PatientRead(PatientSummary):
    """Full record with PHI. Build only after auditing the read."""

    mrn: str
    given_name: str
    family_name: str
    birth_date: dt.date | None
    zip_code: str | None
    phone: str | None
    email: str | None
    consent_email: bool
    consent_sms: bool
    consent_phone: bool
    consent_surveys: bool
    created_at: dt.datetime


class PatientSearch(BaseModel):
    """Look a patient up by MRN or email (in a POST body, never in a URL). Give exactly one."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    mrn: str | None = Field(None, min_length=1, max_length=40)
    email: str | None = Field(None, min_length=3, max_length=254)

    @model_validator(mode="after")
    def _one(self) -> PatientSearch:
        if (self.mrn is None) == (self.email is None):
            raise ValueError("give exactly one of mrn or email")
        return self


class PatientMatches(BaseModel):
    items: list[PatientRead]


class OrgUnitCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: OrgUnitKind
    parent_id: int | None = None
    timezone: str = Field("America/New_York", max_length=64)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_timezone(v)


def _check_timezone(v: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}; use an IANA name such as America/Chicago") from None
    return v


class OrgUnitUpdate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: OrgUnitKind | None = None
    parent_id: int | None = None
    timezone: str | None = Field(None, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _check_timezone(v)


class OrgUnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    timezone: str


class _StaffSkills(BaseModel):
    @field_validator("languages", "reasons", "channels", check_fields=False)
    @classmethod
    def _skills(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _clean_list(v)


class StaffCreate(_StaffSkills):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    username: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._\-]*$")
    display_name: str = Field(min_length=1, max_length=200)
    job_role: str = Field(min_length=1, max_length=40)
    org_unit_id: int | None = None
    team: str | None = Field(None, max_length=80)
    languages: list[str] = Field(default_factory=lambda: ["en"], max_length=20)
    reasons: list[str] = Field(default_factory=list, max_length=50)
    channels: list[str] = Field(default_factory=list, max_length=10)
    capacity: int = Field(5, ge=0, le=100)
    status: StaffStatus = StaffStatus.offline
    user_id: int | None = None


class StaffUpdate(_StaffSkills):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    display_name: str | None = Field(None, min_length=1, max_length=200)
    job_role: str | None = Field(None, min_length=1, max_length=40)
    org_unit_id: int | None = None
    team: str | None = Field(None, max_length=80)
    languages: list[str] | None = Field(None, max_length=20)
    reasons: list[str] | None = Field(None, max_length=50)
    channels: list[str] | None = Field(None, max_length=10)
    capacity: int | None = Field(None, ge=0, le=100)
    user_id: int | None = None
    active: bool | None = None


class StaffStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: StaffStatus


class StaffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    job_role: str
    org_unit_id: int | None
    team: str | None
    languages: list[str]
    reasons: list[str]
    channels: list[str]
    capacity: int
    status: str
    status_since: dt.datetime
    user_id: int | None
    active: bool


class EncounterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: EncounterType
    department_id: int
    provider_id: int | None = None
    admit_at: dt.datetime
    discharge_at: dt.datetime | None = None
    charges: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    wait_minutes: int | None = Field(None, ge=0, le=100_000)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("admit_at", "discharge_at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2024-03-01T09:30:00Z")
        return v

    @field_validator("discharge_at")
    @classmethod
    def _order(cls, v: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        admit = info.data.get("admit_at")
        if v is not None and admit is not None and v < admit:
            raise ValueError("discharge_at must not be before admit_at")
        return v


class EncounterDischarge(BaseModel):
    """Record (or correct) when the patient left; the first discharge announces ``people.encounter_discharged``."""

    model_config = ConfigDict(extra="forbid")
    discharge_at: dt.datetime

    @field_validator("discharge_at")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2024-03-01T09:30:00Z")
        return v


class EncounterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_id: int
    type: str
    department_id: int
    provider_id: int | None
    admit_at: dt.datetime
    discharge_at: dt.datetime | None
    charges: Decimal
    wait_minutes: int | None
    extra: dict[str, Any]

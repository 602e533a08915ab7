"""Org units, staff, patients (PHI sealed) and encounters."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pxm.platform.auth import models as _auth_models  # noqa: F401  (staff.user_id -> users.id)
from pxm.platform.db.base import Base, UTCDateTime, utcnow
from pxm.platform.people.crypto import Sealed

# An agent's skill codes. On PostgreSQL ``jsonb``: routing asks "has this skill" of every available agent for
# every new case (``@>``), and ``json`` would be parsed again for each row each time.
SKILLS = JSON().with_variant(JSONB(), "postgresql")


class OrgUnitKind(enum.StrEnum):
    facility = "facility"
    department = "department"
    service_line = "service_line"


class OrgUnit(Base):
    __tablename__ = "org_units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])


class StaffStatus(enum.StrEnum):
    available = "available"
    busy = "busy"
    away = "away"
    offline = "offline"


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    job_role: Mapped[str] = mapped_column(String(40))  # agent, supervisor, nurse, physician, ...
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    team: Mapped[str | None] = mapped_column(String(80))
    languages: Mapped[list[str]] = mapped_column(SKILLS, default=list)
    reasons: Mapped[list[str]] = mapped_column(SKILLS, default=list)
    channels: Mapped[list[str]] = mapped_column(SKILLS, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[str] = mapped_column(String(20), default=StaffStatus.offline.value)
    status_since: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    org_unit: Mapped[OrgUnit | None] = relationship()


class Patient(Base):
    """A patient. Identifiers and contact details are sealed; ``*_index`` columns are keyed HMACs."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(Sealed("patients.mrn"))
    mrn_index: Mapped[str] = mapped_column(String(64), unique=True)
    given_name: Mapped[str] = mapped_column(Sealed("patients.given_name"))
    family_name: Mapped[str] = mapped_column(Sealed("patients.family_name"))
    birth_date: Mapped[str | None] = mapped_column(Sealed("patients.birth_date"))  # ISO date
    birth_year: Mapped[int | None] = mapped_column(Integer)  # not an identifier under HIPAA safe harbor (<90)
    sex: Mapped[str | None] = mapped_column(String(1))  # F, M, X
    zip_code: Mapped[str | None] = mapped_column(Sealed("patients.zip_code"))
    zip3: Mapped[str | None] = mapped_column(String(3))
    phone: Mapped[str | None] = mapped_column(Sealed("patients.phone"))
    email: Mapped[str | None] = mapped_column(Sealed("patients.email"))
    email_index: Mapped[str | None] = mapped_column(String(64), index=True)
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    preferred_channel: Mapped[str] = mapped_column(String(16), default="email")
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_surveys: Mapped[bool] = mapped_column(Boolean, default=False)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    home_facility_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EncounterType(enum.StrEnum):
    inpatient = "inpatient"
    outpatient = "outpatient"
    emergency = "emergency"
    telehealth = "telehealth"


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (Index("ix_encounters_patient_admit", "patient_id", "admit_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    type: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    admit_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    discharge_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    charges: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    wait_minutes: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

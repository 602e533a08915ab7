"""Complaints and compliments: their own record with due dates, status and the linked recovery case."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pxm.platform.db.base import Base, UTCDateTime, utcnow
from pxm.platform.people import models as _people_models  # noqa: F401  (patients, encounters, org_units)
from pxm.platform.people.crypto import Sealed
from pxm.practices.resolution import models as _resolution_models  # noqa: F401  (cases: the FK target)


class Kind(enum.StrEnum):
    complaint = "complaint"
    compliment = "compliment"


class Severity(enum.StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ComplaintStatus(enum.StrEnum):
    received = "received"
    acknowledged = "acknowledged"
    investigating = "investigating"
    resolved = "resolved"
    closed = "closed"


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_received", "status", "received_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default=Kind.complaint.value)
    channel: Mapped[str] = mapped_column(String(16))  # phone, email, letter, portal, in_person, survey, social
    category: Mapped[str] = mapped_column(String(40))  # a theme code or "clinical_care", "other", ...
    severity: Mapped[str] = mapped_column(String(10), default=Severity.medium.value)
    complex: Mapped[bool] = mapped_column(Boolean, default=False)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    description: Mapped[str] = mapped_column(Sealed("complaints.description"))
    description_masked: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledge_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.received.value)
    outcome_letter: Mapped[str | None] = mapped_column(Sealed("complaints.outcome_letter"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ComplaintSettings(Base):
    """Due-date policy (one row, id 1): days to acknowledge, to resolve a standard and a complex complaint."""

    __tablename__ = "complaint_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    acknowledge_days: Mapped[int] = mapped_column(Integer, default=2)
    standard_days: Mapped[int] = mapped_column(Integer, default=7)
    complex_days: Mapped[int] = mapped_column(Integer, default=21)
    updated_by: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

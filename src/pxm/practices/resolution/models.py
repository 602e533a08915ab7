"""Patient service desk tables: contacts, cases and their events, reasons, SLA policies, calendars, escalations.

A **contact** is one interaction with a patient; a **case** is the patient's issue and may span several
contacts. Every case transition is a ``case_events`` row (plus an audit event). SLA breaches are found by
``sla.check`` jobs and recorded once per case, target and cycle in ``escalations``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pxm.platform.db.base import Base, UTCDateTime, utcnow


class Channel(enum.StrEnum):
    phone = "phone"
    chat = "chat"
    email = "email"
    portal = "portal"
    sms = "sms"
    walk_in = "walk_in"


QUEUED_CHANNELS = frozenset({Channel.phone.value, Channel.chat.value})


class Direction(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Priority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


PRIORITY_ORDER = (Priority.low, Priority.normal, Priority.high, Priority.urgent)


class CaseStatus(enum.StrEnum):
    new = "new"
    assigned = "assigned"
    in_progress = "in_progress"
    waiting_on_patient = "waiting_on_patient"
    resolved = "resolved"
    closed = "closed"


OPEN_STATUSES = frozenset({CaseStatus.new, CaseStatus.assigned, CaseStatus.in_progress,
                           CaseStatus.waiting_on_patient})
DONE_STATUSES = frozenset({CaseStatus.resolved, CaseStatus.closed})


class CaseSource(enum.StrEnum):
    contact = "contact"
    survey = "survey"
    complaint = "complaint"


class ContactReason(Base):
    """The configurable list of contact reasons (seeded by the migration)."""

    __tablename__ = "contact_reasons"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class BusinessCalendar(Base):
    """Opening hours of a facility (``facility_id`` NULL: the default calendar).

    ``hours`` maps ISO weekday numbers ("1" Monday .. "7" Sunday) to ``["08:00", "17:00"]``; a missing day is
    closed. ``holidays`` lists ISO dates on which the facility is closed.
    """

    __tablename__ = "business_calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)


class SlaPolicy(Base):
    """First-response and resolution targets for a reason and priority (NULL matches any).

    With ``business_hours`` the targets count only the facility's open hours.
    """

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("reason", "priority", name="uq_sla_policies_reason_priority"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str | None] = mapped_column(ForeignKey("contact_reasons.code"))
    priority: Mapped[str | None] = mapped_column(String(10))
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    business_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_patient_reason", "patient_id", "reason"),
        Index("ix_cases_assigned_status", "assigned_staff_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(80), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    reason: Mapped[str] = mapped_column(ForeignKey("contact_reasons.code"))
    priority: Mapped[str] = mapped_column(String(10), default=Priority.normal.value)
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.new.value, index=True)
    channel: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(12), default=CaseSource.contact.value)
    team: Mapped[str | None] = mapped_column(String(80))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    resolution_code: Mapped[str | None] = mapped_column(String(40))
    first_response_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_patient_started", "patient_id", "started_at"),
        Index("ix_contacts_case_started", "case_id", "started_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(ForeignKey("contact_reasons.code"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Queue fields (phone/chat): when the contact entered the queue, when an agent answered, or whether the
    # patient hung up first. They drive ASA, abandonment and service level.
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseEvent(Base):
    """One timestamped thing that happened to a case: a transition, an assignment, a note, a contact."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))  # opened transition reopen assign note contact escalation
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Escalation(Base):
    """An SLA breach: recorded once per case, target and cycle (a reopened case starts a new cycle)."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("case_id", "target", "cycle", name="uq_escalations_case_target_cycle"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    target: Mapped[str] = mapped_column(String(20))  # first_response | resolution
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    escalated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    previous_priority: Mapped[str] = mapped_column(String(10))
    new_priority: Mapped[str] = mapped_column(String(10))
    supervisor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    job_id: Mapped[int | None] = mapped_column(Integer)

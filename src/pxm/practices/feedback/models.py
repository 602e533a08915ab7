"""Survey instruments (versioned), invitations, responses and the message outbox."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pxm.platform.db.base import Base, UTCDateTime, utcnow
from pxm.platform.people.crypto import Sealed


class Instrument(Base):
    """One version of a survey instrument. A new version is a new row; responses keep theirs."""

    __tablename__ = "survey_instruments"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_survey_instruments_code_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InvitationStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    responded = "responded"
    expired = "expired"
    suppressed = "suppressed"  # no consent / no contact route; kept so the decision is visible


class Invitation(Base):
    __tablename__ = "survey_invitations"
    __table_args__ = (Index("ix_survey_invitations_patient_created", "patient_id", "created_at"),
                      Index("ix_survey_invitations_status_send_after", "status", "send_after"))
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    instrument_id: Mapped[int] = mapped_column(ForeignKey("survey_instruments.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, sms
    language: Mapped[str] = mapped_column(String(8), default="en")
    # SHA-256 of the single-use link token of the first message and of the latest reminder.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reminder_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=InvitationStatus.pending.value)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(16))  # encounter, case, wave, manual
    trigger_ref: Mapped[str | None] = mapped_column(String(80), unique=True)  # e.g. "encounter:12:inpatient"
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    send_after: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    max_reminders: Mapped[int] = mapped_column(Integer, default=1)
    reminder_after_days: Mapped[int] = mapped_column(Integer, default=3)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    instrument: Mapped[Instrument] = relationship()


class ResponseStatus(enum.StrEnum):
    partial = "partial"
    complete = "complete"


class Response(Base):
    """Answers to one instrument version. Free text is sealed (it may hold PHI); ``answers`` holds the rest."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_instrument_submitted", "instrument_id", "submitted_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("survey_instruments.id"))
    instrument_version: Mapped[str] = mapped_column(String(40))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitations.id"), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    channel: Mapped[str | None] = mapped_column(String(16))  # how the survey was answered/sent
    language: Mapped[str] = mapped_column(String(8), default="en")
    source: Mapped[str] = mapped_column(String(16), default="web")  # web, api, csv, fhir, synth
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"))
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Free-text answers {item code: text} as sealed JSON, and the main comment (all free text joined).
    text_answers: Mapped[str | None] = mapped_column(Sealed("survey_responses.text_answers"))
    comment: Mapped[str | None] = mapped_column(Sealed("survey_responses.comment"))
    comment_masked: Mapped[str | None] = mapped_column(Text)  # written by text analytics (PHI masked)
    status: Mapped[str] = mapped_column(String(16), default=ResponseStatus.complete.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    instrument: Mapped[Instrument] = relationship()


class MessageStatus(enum.StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"
    uncertain = "uncertain"  # a worker died mid-send and the sender cannot confirm: never re-sent


class MessageOutbox(Base):
    """Every message PXM sends (or, with the outbox sender, would send). ``delivery_key`` makes it unique."""

    __tablename__ = "message_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_key: Mapped[str] = mapped_column(String(120), unique=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    to: Mapped[str] = mapped_column(Sealed("message_outbox.to"))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Sealed("message_outbox.body"))
    language: Mapped[str] = mapped_column(String(8), default="en")
    sender: Mapped[str | None] = mapped_column(String(16))  # outbox, smtp, sms
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.queued.value)
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitations.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

"""Complaints and compliments: record, acknowledge, investigate, resolve, close.

Due dates come from ``complaint_settings`` (row 1): acknowledge within ``acknowledge_days`` (2), resolve a
standard complaint within ``standard_days`` (7) and a complex one within ``complex_days`` (21), counted in
calendar days from ``received_at``. Compliments have no due dates. A complaint with a linked patient opens a
service-recovery case at once (``loop.check_complaint``).

The description and the outcome letter are sealed (they name people); lists and boards show the masked
description. Reading the sealed text is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.permissions import Permission
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import APIError, BadRequest, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404
from pxm.platform.http.pagination import PageParams
from pxm.platform.people.models import Encounter, OrgUnit, Patient
from pxm.practices.feedback.complaints.models import (
    Complaint,
    ComplaintSettings,
    ComplaintStatus,
    Kind,
    Severity,
)
from pxm.practices.feedback.text import phi_mask
from pxm.practices.feedback.text.service import patient_names

CHANNELS = ("phone", "email", "letter", "portal", "in_person", "survey", "social", "other")
OPEN = (ComplaintStatus.received.value, ComplaintStatus.acknowledged.value, ComplaintStatus.investigating.value)
_NEXT: dict[str, tuple[str, ...]] = {
    "received": ("acknowledged", "investigating", "resolved", "closed"),
    "acknowledged": ("investigating", "resolved", "closed"),
    "investigating": ("resolved", "closed"),
    "resolved": ("closed", "investigating"),
    "closed": ("investigating",),
}


def _choice(value: str, allowed: Any, field: str) -> str:
    codes = [str(v) for v in allowed]
    if value not in codes:
        raise BadRequest(f"{field} must be one of: {', '.join(codes)} (got {value!r})")
    return value


def get_settings(session: Session) -> ComplaintSettings:
    row = session.get(ComplaintSettings, 1)
    if row is None:  # the migration seeds it; recreate if someone deleted it
        row = ComplaintSettings(id=1, acknowledge_days=2, standard_days=7, complex_days=21)
        session.add(row)
        session.flush()
    return row


def update_settings(session: Session, actor: Actor, *, acknowledge_days: int | None = None,
                    standard_days: int | None = None, complex_days: int | None = None) -> ComplaintSettings:
    row = get_settings(session)
    changes: dict[str, Any] = {}
    for name, value in (("acknowledge_days", acknowledge_days), ("standard_days", standard_days),
                        ("complex_days", complex_days)):
        if value is None:
            continue
        if not 1 <= value <= 365:
            raise BadRequest(f"{name} must be between 1 and 365 days (got {value})")
        changes[name] = [getattr(row, name), value]
        setattr(row, name, value)
    if row.standard_days > row.complex_days:
        raise BadRequest("standard_days must not exceed complex_days")
    row.updated_by = actor.label
    row.updated_at = utcnow()
    audit.record(session, actor, "complaint_settings.updated", "complaint_settings", 1, details=changes)
    session.flush()
    return row


def due_dates(settings: ComplaintSettings, kind: str, complex_: bool, received_at: dt.datetime
              ) -> tuple[dt.datetime | None, dt.datetime | None]:
    if kind != Kind.complaint.value:
        return None, None
    days = settings.complex_days if complex_ else settings.standard_days
    return received_at + dt.timedelta(days=settings.acknowledge_days), received_at + dt.timedelta(days=days)


def create_complaint(session: Session, actor: Actor, *, kind: str, channel: str, category: str, description: str,
                     severity: str = "medium", complex_: bool = False, patient_id: int | None = None,
                     encounter_id: int | None = None, department_id: int | None = None,
                     received_at: dt.datetime | None = None) -> Complaint:
    _choice(kind, Kind, "kind")
    _choice(channel, CHANNELS, "channel")
    _choice(severity, Severity, "severity")
    description = (description or "").strip()
    if not description:
        raise BadRequest("description must not be empty: say what the patient told us")
    category = (category or "").strip().lower()
    if not category or len(category) > 40:
        raise BadRequest("category must be 1-40 characters, e.g. wait_time, staff_attitude, billing, clinical_care")
    if received_at is not None and received_at.tzinfo is None:
        raise BadRequest("received_at needs a time zone, e.g. 2026-03-01T09:30:00Z")
    if patient_id is not None and session.get(Patient, patient_id) is None:
        raise NotFound("patient", patient_id)
    if encounter_id is not None:
        enc = get_or_404(session, Encounter, encounter_id, "encounter")
        if patient_id is not None and enc.patient_id != patient_id:
            raise BadRequest(f"encounter {encounter_id} belongs to another patient")
        department_id = department_id or enc.department_id
    if department_id is not None and session.get(OrgUnit, department_id) is None:
        raise NotFound("department", department_id)
    received = received_at or utcnow()
    ack_due, res_due = due_dates(get_settings(session), kind, complex_, received)
    names = patient_names(session, actor, patient_id, purpose="mask complaint")
    row = Complaint(kind=kind, channel=channel, category=category, severity=severity, complex=complex_,
                    patient_id=patient_id, encounter_id=encounter_id, department_id=department_id,
                    description=description, description_masked=phi_mask.mask(description, names).text,
                    received_at=received, acknowledge_due_at=ack_due, resolution_due_at=res_due,
                    status=ComplaintStatus.received.value, created_by=actor.label)
    session.add(row)
    session.flush()
    audit.record(session, actor, f"{kind}.created", "complaint", row.id, patient_id=patient_id,
                 details={"severity": severity, "category": category, "channel": channel})
    from pxm.practices.feedback.loop.service import check_complaint

    check_complaint(session, actor, row)
    return row


def get_complaint(session: Session, complaint_id: int) -> Complaint:
    return get_or_404(session, Complaint, complaint_id, "complaint")


def update_complaint(session: Session, actor: Actor, complaint_id: int, *, status: str | None = None,
                     severity: str | None = None, category: str | None = None, complex_: bool | None = None,
                     outcome_letter: str | None = None, at: dt.datetime | None = None) -> Complaint:
    """Move a complaint along (received -> acknowledged -> investigating -> resolved -> closed) or edit it.

    Resolving a complaint needs an outcome letter (given now or earlier). Marking it complex moves the
    resolution due date to ``complex_days`` after receipt.
    """
    row = get_complaint(session, complaint_id)
    when = at or utcnow()
    changes: dict[str, Any] = {}
    if severity is not None and severity != row.severity:
        _choice(severity, Severity, "severity")
        changes["severity"] = [row.severity, severity]
        row.severity = severity
    if category is not None and category != row.category:
        changes["category"] = [row.category, category]
        row.category = category.strip().lower()[:40]
    if complex_ is not None and complex_ != row.complex:
        row.complex = complex_
        _, row.resolution_due_at = due_dates(get_settings(session), row.kind, complex_, row.received_at)
        changes["complex"] = complex_
    if outcome_letter is not None:
        if not outcome_letter.strip():
            raise BadRequest("outcome_letter must not be empty")
        row.outcome_letter = outcome_letter.strip()
        changes["outcome_letter"] = "set"
    if status is not None and status != row.status:
        _choice(status, ComplaintStatus, "status")
        if status not in _NEXT[row.status]:
            raise Conflict(f"a {row.status} complaint cannot move to {status}; allowed: {', '.join(_NEXT[row.status])}")
        if status == ComplaintStatus.resolved.value and row.kind == Kind.complaint.value and not row.outcome_letter:
            raise BadRequest("resolving a complaint needs the outcome_letter sent to the patient")
        changes["status"] = [row.status, status]
        if status == "acknowledged" or (row.acknowledged_at is None and status in ("investigating", "resolved")):
            row.acknowledged_at = row.acknowledged_at or when
        if status == "resolved":
            row.resolved_at = when
        if status == "closed":
            row.closed_at = when
            row.resolved_at = row.resolved_at or when
        if status == "investigating":
            row.resolved_at = None
            row.closed_at = None
        row.status = status
    if changes:
        audit.record(session, actor, "complaint.updated", "complaint", row.id, patient_id=row.patient_id,
                     details=changes)
    session.flush()
    return row


def list_complaints(session: Session, params: PageParams, *, status: str | None = None, kind: str | None = None,
                    overdue: bool | None = None, now: dt.datetime | None = None) -> tuple[list[Complaint], int]:
    now = now or utcnow()
    q = select(Complaint)
    if status is not None:
        q = q.where(Complaint.status == _choice(status, ComplaintStatus, "status"))
    if kind is not None:
        q = q.where(Complaint.kind == _choice(kind, Kind, "kind"))
    rows = list(session.execute(q.order_by(Complaint.received_at.desc(), Complaint.id.desc())).scalars())
    if overdue is not None:
        rows = [r for r in rows if bool(overdue_flags(r, now)) == overdue]
    return rows[params.offset:params.offset + params.limit], len(rows)


def overdue_flags(row: Complaint, now: dt.datetime | None = None) -> list[str]:
    """Which due dates an open complaint has missed: "acknowledgement", "resolution"."""
    now = now or utcnow()
    flags = []
    if row.acknowledged_at is None and row.acknowledge_due_at is not None and now > row.acknowledge_due_at:
        flags.append("acknowledgement")
    if row.status in OPEN and row.resolution_due_at is not None and now > row.resolution_due_at:
        flags.append("resolution")
    return flags


def complaint_view(row: Complaint, now: dt.datetime | None = None) -> dict[str, Any]:
    """What a complaints user sees on lists and the board: masked description, no sealed fields."""
    return {
        "id": row.id, "kind": row.kind, "channel": row.channel, "category": row.category, "severity": row.severity,
        "complex": row.complex, "patient_id": row.patient_id, "encounter_id": row.encounter_id,
        "department_id": row.department_id, "description_masked": row.description_masked,
        "received_at": row.received_at, "acknowledge_due_at": row.acknowledge_due_at,
        "resolution_due_at": row.resolution_due_at, "acknowledged_at": row.acknowledged_at,
        "resolved_at": row.resolved_at, "closed_at": row.closed_at, "status": row.status,
        "has_outcome_letter": bool(row.outcome_letter), "case_id": row.case_id,
        "overdue": overdue_flags(row, now), "created_by": row.created_by,
    }


def read_complaint_text(session: Session, actor: Actor, complaint_id: int) -> dict[str, Any]:
    """The sealed description and outcome letter (needs patients:read; audited)."""
    if not actor.can(Permission.patients_read):
        raise APIError(403, "forbidden", "reading the unmasked complaint needs the patients:read permission")
    row = get_complaint(session, complaint_id)
    audit.record(session, actor, "complaint.text_read", "complaint", row.id, patient_id=row.patient_id)
    return {"id": row.id, "description": row.description, "outcome_letter": row.outcome_letter}


def board(session: Session, now: dt.datetime | None = None, limit_per_column: int = 100) -> dict[str, Any]:
    """Complaints by status column (closed: the last 30 days only) with overdue flags."""
    now = now or utcnow()
    columns: dict[str, list[dict[str, Any]]] = {s.value: [] for s in ComplaintStatus}
    counts = dict.fromkeys(columns, 0)
    q = select(Complaint).where(
        (Complaint.status != ComplaintStatus.closed.value) | (Complaint.closed_at >= now - dt.timedelta(days=30))
    ).order_by(Complaint.received_at)
    overdue = 0
    for row in session.execute(q).scalars():
        counts[row.status] += 1
        view = complaint_view(row, now)
        overdue += bool(view["overdue"])
        if len(columns[row.status]) < limit_per_column:
            columns[row.status].append(view)
    return {"columns": columns, "counts": counts, "overdue": overdue}

"""Service-desk business functions: open cases, log contacts, move cases through their lifecycle.

These are the public entry points other features call (feedback opens service-recovery cases with
``open_case``; routing records its decisions with ``assign``). Keep their signatures stable. Every function
takes ``(session, actor, ...)``, only flushes, and writes a ``case_events`` row plus an audit event for each
change.

Lifecycle: new -> assigned -> in_progress <-> waiting_on_patient -> resolved -> closed. A resolved or closed
case is *reopened* (to in_progress, or new/assigned when nobody is handling it) by a repeat contact or an
explicit transition; each reopening starts a new SLA cycle.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import BadRequest, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404
from pxm.platform.people.models import Patient, Staff
from pxm.practices.resolution import sla
from pxm.practices.resolution.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseSource,
    CaseStatus,
    Channel,
    Contact,
    ContactReason,
    Direction,
    Priority,
)

DEFAULT_WINDOW_DAYS = 7
RESOLUTION_CODES = (
    "answered", "appointment_booked", "refill_sent", "results_explained", "referral_made", "records_sent",
    "billing_corrected", "clinical_callback", "complaint_resolved", "no_action_needed", "duplicate", "other",
)
RESOLVED_AT_CONTACT = "answered"

_NEXT: dict[str, frozenset[str]] = {
    CaseStatus.new: frozenset({"assigned", "in_progress", "waiting_on_patient", "resolved", "closed"}),
    CaseStatus.assigned: frozenset({"new", "assigned", "in_progress", "waiting_on_patient", "resolved", "closed"}),
    CaseStatus.in_progress: frozenset({"assigned", "waiting_on_patient", "resolved", "closed"}),
    CaseStatus.waiting_on_patient: frozenset({"assigned", "in_progress", "resolved", "closed"}),
    CaseStatus.resolved: frozenset({"closed", "new", "assigned", "in_progress"}),
    CaseStatus.closed: frozenset({"new", "assigned", "in_progress"}),
}


def next_statuses(status: str) -> list[str]:
    """The statuses a case in ``status`` may move to, in lifecycle order."""
    allowed = _NEXT.get(CaseStatus(status), frozenset()) - {status}
    return [s.value for s in CaseStatus if s.value in allowed]


def reason_codes(session: Session) -> list[str]:
    rows = session.execute(
        select(ContactReason.code).where(ContactReason.active.is_(True)).order_by(ContactReason.sort_order)
    )
    return [r[0] for r in rows]


def _check_choice(value: str, allowed: Any, field: str) -> str:
    codes = [str(v) for v in allowed]
    if value not in codes:
        raise BadRequest(f"{field} must be one of: {', '.join(codes)} (got {value!r})")
    return value


def _check_reason(session: Session, reason: str) -> str:
    return _check_choice(reason, reason_codes(session), "reason")


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadRequest(f"{field} needs a time zone, e.g. 2024-03-01T09:30:00Z")
    return value


def get_case(session: Session, case_id: int) -> Case:
    return get_or_404(session, Case, case_id, "case")


def _event(session: Session, actor: Actor, case: Case, kind: str, *, at: dt.datetime | None = None,
           from_status: str | None = None, to_status: str | None = None, note: str | None = None,
           details: dict[str, Any] | None = None) -> CaseEvent:
    ev = CaseEvent(case_id=case.id, at=at or utcnow(), actor=actor.label, kind=kind, from_status=from_status,
                   to_status=to_status, note=note, details=details or {})
    session.add(ev)
    audit.record(session, actor, f"case.{kind}", "case", case.id, patient_id=case.patient_id,
                 details={k: v for k, v in {"from": from_status, "to": to_status, **(details or {})}.items()
                          if v is not None})
    return ev


def _route(session: Session, actor: Actor, case: Case) -> None:
    # Routing (pxm.operations.routing) decides WHO gets a new case and records it through ``assign`` below.
    # It is imported lazily, at call time, because routing itself builds on this module; and a deployment
    # (or a test) without the routing feature must still be able to open cases.
    try:
        from pxm.operations.routing import service as routing
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("pxm.operations"):
            return
        raise
    route_case = getattr(routing, "route_case", None)
    if route_case is not None:
        route_case(session, actor, case)


def open_case(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    reason: str,
    priority: str = "normal",
    channel: str | None = None,
    source: str = "contact",
    summary: str | None = None,
    team: str | None = None,
    facility_id: int | None = None,
    opened_at: dt.datetime | None = None,
    external_ref: str | None = None,
    route: bool = True,
    schedule_sla: bool = True,
) -> Case:
    """Open a case for a patient; set its SLA due times, schedule the breach checks and ask routing for an agent."""
    _check_reason(session, reason)
    _check_choice(priority, Priority, "priority")
    _check_choice(source, CaseSource, "source")
    if channel is not None:
        _check_choice(channel, Channel, "channel")
    _aware(opened_at, "opened_at")
    patient = get_or_404(session, Patient, patient_id, "patient")
    case = Case(patient_id=patient_id, reason=reason, priority=priority, status=CaseStatus.new.value,
                channel=channel, source=source, summary=summary, team=team,
                facility_id=facility_id if facility_id is not None else patient.home_facility_id,
                opened_at=opened_at or utcnow(), external_ref=external_ref, reopened_count=0,
                first_response_breached=False, resolution_breached=False)
    session.add(case)
    session.flush()
    case.first_response_due_at, case.resolution_due_at = sla.due_times(session, case, case.opened_at)
    _event(session, actor, case, "opened", at=case.opened_at, to_status=case.status,
           details={"reason": reason, "priority": priority, "source": source})
    if schedule_sla:
        sla.schedule_checks(session, case)
    session.flush()
    if route:
        _route(session, actor, case)
    return case


def transition(
    session: Session,
    actor: Actor,
    case_id: int,
    to_status: str,
    *,
    note: str | None = None,
    resolution_code: str | None = None,
    at: dt.datetime | None = None,
) -> Case:
    """Move a case to ``to_status`` (resolving needs a resolution code; leaving resolved/closed reopens it)."""
    case = get_case(session, case_id)
    _check_choice(to_status, CaseStatus, "to_status")
    current = case.status
    if to_status not in _NEXT[CaseStatus(current)]:
        raise Conflict(f"a {current} case cannot move to {to_status}; allowed: {', '.join(sorted(_NEXT[CaseStatus(current)]))}")
    if to_status == CaseStatus.resolved and resolution_code is None:
        raise BadRequest(f"resolving needs a resolution_code: one of {', '.join(RESOLUTION_CODES)}")
    if resolution_code is not None:
        _check_choice(resolution_code, RESOLUTION_CODES, "resolution_code")
    when = at or utcnow()
    reopening = current in DONE_STATUSES and to_status in OPEN_STATUSES
    case.status = to_status
    if reopening:
        case.reopened_count += 1
        case.resolved_at = None
        case.closed_at = None
        case.resolution_code = None
        case.resolution_breached = False
        _, case.resolution_due_at = sla.due_times(session, case, when)
        sla.schedule_checks(session, case, targets=("resolution",))
    if to_status in (CaseStatus.in_progress, CaseStatus.waiting_on_patient, CaseStatus.resolved) \
            and case.first_response_at is None:
        case.first_response_at = when
    if to_status == CaseStatus.resolved:
        case.resolved_at = when
        case.resolution_code = resolution_code
    if to_status == CaseStatus.closed:
        case.closed_at = when
        if case.resolution_code is None and resolution_code is not None:
            case.resolution_code = resolution_code
    details: dict[str, Any] = {"resolution_code": resolution_code} if resolution_code else {}
    _event(session, actor, case, "reopen" if reopening else "transition", at=when, from_status=current,
           to_status=to_status, note=note, details=details)
    session.flush()
    if to_status == CaseStatus.resolved:
        _invite_for_resolved(session, actor, case, when)
    return case


def _invite_for_resolved(session: Session, actor: Actor, case: Case, when: dt.datetime) -> None:
    """Case resolved: the feedback feature invites the patient to a ``pulse`` survey, in this transaction.

    The feedback service applies consent and the fatigue rule (recording a ``suppressed`` invitation when
    either stops it) and keeps one invitation per case: resolving a reopened case again adds nothing.
    Imported at call time (feedback reads the resolution feature's queries); a deployment without the
    feedback feature resolves cases without surveys.
    """
    try:
        from pxm.practices.feedback import invitations
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("pxm.practices.feedback"):
            return
        raise
    from pxm.platform.config import get_settings

    invitations.invite_for_case(session, actor, case_id=case.id, patient_id=case.patient_id, now=when,
                                policy=invitations.InvitationPolicy.from_settings(get_settings()))


def assign(session: Session, actor: Actor, case_id: int, staff_id: int, *, reason_text: str) -> Case:
    """Record that ``staff_id`` now owns the case (routing decides who; this writes it down)."""
    case = get_case(session, case_id)
    staff = get_or_404(session, Staff, staff_id, "staff member")
    if not staff.active:
        raise Conflict(f"staff member {staff.username} is inactive; choose an active agent")
    if case.status in DONE_STATUSES:
        raise Conflict(f"case {case.id} is {case.status}; reopen it before assigning")
    previous = case.status
    case.assigned_staff_id = staff.id
    if case.team is None:
        case.team = staff.team
    if case.status in (CaseStatus.new, CaseStatus.assigned, CaseStatus.in_progress):
        case.status = CaseStatus.assigned.value
    _event(session, actor, case, "assign", from_status=previous, to_status=case.status, note=reason_text,
           details={"staff_id": staff.id})
    session.flush()
    return case


def add_note(session: Session, actor: Actor, case_id: int, text: str) -> CaseEvent:
    case = get_case(session, case_id)
    text = text.strip()
    if not text:
        raise BadRequest("note must not be empty")
    ev = _event(session, actor, case, "note", note=text)
    session.flush()
    return ev


def update_case(session: Session, actor: Actor, case_id: int, *, priority: str | None = None,
                summary: str | None = None, team: str | None = None) -> Case:
    case = get_case(session, case_id)
    changed: dict[str, Any] = {}
    if priority is not None and priority != case.priority:
        _check_choice(priority, Priority, "priority")
        changed["priority"] = [case.priority, priority]
        case.priority = priority
        # targets follow the priority: recompute the unmet ones from when the case (or its cycle) started
        first_due, resolution_due = sla.due_times(session, case, case.opened_at)
        targets: list[str] = []
        if case.first_response_at is None and not case.first_response_breached:
            case.first_response_due_at = first_due
            targets.append("first_response")
        if case.status not in DONE_STATUSES and not case.resolution_breached and case.reopened_count == 0:
            case.resolution_due_at = resolution_due
            targets.append("resolution")
        sla.schedule_checks(session, case, targets=tuple(targets), moved=True)
    if summary is not None and summary != case.summary:
        changed["summary"] = "changed"
        case.summary = summary
    if team is not None and team != case.team:
        changed["team"] = [case.team, team]
        case.team = team
    if changed:
        _event(session, actor, case, "update", details=changed)
        session.flush()
    return case


def _find_case_for(session: Session, patient_id: int, reason: str, started_at: dt.datetime,
                   window_days: int) -> Case | None:
    """The patient's open case for this reason, else one resolved/closed within the window (to reopen)."""
    open_case_ = session.execute(
        select(Case).where(Case.patient_id == patient_id, Case.reason == reason,
                           Case.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Case.opened_at.desc()).limit(1)
    ).scalar_one_or_none()
    if open_case_ is not None:
        return open_case_
    since = started_at - dt.timedelta(days=window_days)
    return session.execute(
        select(Case).where(Case.patient_id == patient_id, Case.reason == reason,
                           Case.status.in_([s.value for s in DONE_STATUSES]), Case.resolved_at >= since,
                           Case.resolved_at <= started_at)
        .order_by(Case.resolved_at.desc()).limit(1)
    ).scalar_one_or_none()


def log_contact(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    channel: str,
    direction: str,
    reason: str,
    started_at: dt.datetime,
    ended_at: dt.datetime | None = None,
    agent_id: int | None = None,
    case_id: int | None = None,
    resolved: bool = False,
    queued_at: dt.datetime | None = None,
    answered_at: dt.datetime | None = None,
    abandoned: bool = False,
    external_id: str | None = None,
    resolution_code: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    route: bool = True,
) -> Contact:
    """Record one interaction and attach it to a case.

    Without ``case_id`` the contact joins the patient's open case for the same reason, reopens one resolved
    within ``window_days``, or opens a new case. ``resolved=True`` resolves the case in this contact.
    """
    _check_choice(channel, Channel, "channel")
    _check_choice(direction, Direction, "direction")
    _check_reason(session, reason)
    for field, value in (("started_at", started_at), ("ended_at", ended_at), ("queued_at", queued_at),
                         ("answered_at", answered_at)):
        _aware(value, field)
    if ended_at is not None and ended_at < started_at:
        raise BadRequest("ended_at must not be before started_at")
    if answered_at is not None and queued_at is not None and answered_at < queued_at:
        raise BadRequest("answered_at must not be before queued_at")
    if abandoned and (answered_at is not None or resolved):
        raise BadRequest("an abandoned contact cannot be answered or resolve its case")
    if session.get(Patient, patient_id) is None:
        raise NotFound("patient", patient_id)
    if agent_id is not None and session.get(Staff, agent_id) is None:
        raise NotFound("staff member", agent_id)
    if external_id is not None:
        dup = session.execute(select(Contact.id).where(Contact.external_id == external_id)).first()
        if dup is not None:
            raise Conflict(f"contact {external_id!r} is already recorded (contact id {dup[0]})")
    if case_id is not None:
        case = get_case(session, case_id)
        if case.patient_id != patient_id:
            raise BadRequest(f"case {case_id} belongs to another patient; omit case_id or pick this patient's case")
    else:
        found = _find_case_for(session, patient_id, reason, started_at, window_days)
        case = found or open_case(session, actor, patient_id=patient_id, reason=reason, channel=channel,
                                  opened_at=min(started_at, queued_at or started_at), route=route)
    # A repeat contact from the patient reopens a resolved case; an outbound follow-up does not.
    if case.status in DONE_STATUSES and direction == Direction.inbound and not abandoned:
        to = CaseStatus.in_progress if agent_id is not None else (
            CaseStatus.assigned if case.assigned_staff_id else CaseStatus.new)
        transition(session, actor, case.id, to.value, note="reopened by a repeat contact", at=started_at)
    contact = Contact(patient_id=patient_id, case_id=case.id, channel=channel, direction=direction, reason=reason,
                      agent_id=agent_id, started_at=started_at, ended_at=ended_at, queued_at=queued_at,
                      answered_at=answered_at, abandoned=abandoned, resolved=resolved, outcome=outcome,
                      external_id=external_id)
    session.add(contact)
    session.flush()
    handled = not abandoned and (agent_id is not None or direction == Direction.outbound)
    if handled and case.first_response_at is None:
        case.first_response_at = answered_at or started_at
    _event(session, actor, case, "contact", at=started_at, note=note,
           details={"contact_id": contact.id, "channel": channel, "direction": direction})
    if resolved and case.status not in DONE_STATUSES:
        transition(session, actor, case.id, CaseStatus.resolved.value,
                   resolution_code=resolution_code or RESOLVED_AT_CONTACT, at=ended_at or started_at)
    elif handled and case.status in (CaseStatus.new, CaseStatus.assigned):
        transition(session, actor, case.id, CaseStatus.in_progress.value, at=answered_at or started_at)
    session.flush()
    return contact

"""Service-desk business functions: open cases, log contacts, move cases through their lifecycle.

These are the public entry points other features call (feedback opens service-recovery cases with
``open_case``; routing records its decisions with ``assign``). Keep their signatures stable. Every function
takes ``(session, actor, ...)``, only flushes, and writes a ``case_events`` row for each change plus an
audit event: one per call. Opening a case is one audit event (``case.opened``) that also names the agent
routing chose and the decision row; a contact is one audit event (``case.opened`` when it opened the case,
else ``case.contact``) that names the contact; a transition or an assignment made afterwards is audited on
its own (``case.transition``, ``case.reopen``, ``case.assign``).

Contact creation is the hot path of the desk (see docs/benchmarks.md), so it is written to stay near a
dozen statements: reference data comes from ``reference.cached``; the patient's facts (two columns, no PHI
decrypted) and the case the contact joins come in one query, on PostgreSQL with the ids of the contact and of
the case it opens reserved from their sequences; the case (unassigned), its SLA checks (one INSERT) and the
contact are written first (on PostgreSQL, where their ids are known, they are queued and go in the next round
trip); then routing takes its lock, the agents snapshot, the audit head and the decision row's id in one round
trip, and on PostgreSQL the assignment, the decision row and the case events go with the audit events and the
COMMIT in one more (``_route_new``). The statements are built once, at import.

Lifecycle: new -> assigned -> in_progress <-> waiting_on_patient -> resolved -> closed. A resolved or closed
case is *reopened* (to in_progress, or new/assigned when nobody is handling it) by a repeat contact or an
explicit transition; each reopening starts a new SLA cycle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, or_, select, true, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import Base, utcnow
from pxm.platform.db.prebuilt import (
    Batch,
    Prebuilt,
    insert_into,
    insert_returning_id,
    next_id,
    numbered_params,
    numbered_values,
    read_ahead,
)
from pxm.platform.http.errors import BadRequest, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404
from pxm.platform.people.models import Patient, Staff
from pxm.practices.resolution import reference, sla
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
_CASE_EVENTS = CaseEvent.metadata.tables[CaseEvent.__tablename__]
RESOLUTION_CODES = (
    "answered", "appointment_booked", "refill_sent", "results_explained", "referral_made", "records_sent",
    "billing_corrected", "clinical_callback", "complaint_resolved", "no_action_needed", "duplicate", "other",
)
RESOLVED_AT_CONTACT = "answered"
# why a case opened by a contact an agent handled is that agent's (the assign event's note)
HANDLED_FIRST_CONTACT = "handled its first contact"

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


def _load_reason_codes(session: Session) -> tuple[str, ...]:
    rows = session.execute(
        select(ContactReason.code).where(ContactReason.active.is_(True)).order_by(ContactReason.sort_order)
    )
    return tuple(r[0] for r in rows)


reference.watch(ContactReason)


def reason_codes(session: Session) -> list[str]:
    """Active contact reason codes in display order (a per-process copy, see ``reference``)."""
    return list(reference.cached(session, "resolution.reasons", _load_reason_codes))


def _check_choice(value: str, allowed: Any, field: str) -> str:
    codes = [str(v) for v in allowed]
    if value not in codes:
        raise BadRequest(f"{field} must be one of: {', '.join(codes)} (got {value!r})")
    return value


def _check_reason(session: Session, reason: str) -> str:
    return _check_choice(reason, reference.cached(session, "resolution.reasons", _load_reason_codes), "reason")


@dataclass(frozen=True)
class _PatientFacts:
    """What the desk needs of a patient: that it exists, its home facility, its language. No PHI."""

    id: int
    home_facility_id: int | None
    language: str


_P = Patient.__table__.c
_PATIENT_FACTS = select(_P.home_facility_id, _P.preferred_language).where(_P.id == bindparam("patient_id"))


def _patient(session: Session, patient_id: int) -> _PatientFacts:
    session.flush()
    row = session.connection().execute(_PATIENT_FACTS, {"patient_id": patient_id}).first()
    if row is None:
        raise NotFound("patient", patient_id)
    return _PatientFacts(patient_id, row[0], row[1] or "en")


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadRequest(f"{field} needs a time zone, e.g. 2024-03-01T09:30:00Z")
    return value


def get_case(session: Session, case_id: int) -> Case:
    return get_or_404(session, Case, case_id, "case")


def _audit_details(from_status: str | None, to_status: str | None, details: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in {"from": from_status, "to": to_status, **(details or {})}.items() if v is not None}


def _event(session: Session, actor: Actor, case: Case, kind: str, *, at: dt.datetime | None = None,
           from_status: str | None = None, to_status: str | None = None, note: str | None = None,
           details: dict[str, Any] | None = None) -> CaseEvent:
    ev = CaseEvent(case_id=case.id, at=at or utcnow(), actor=actor.label, kind=kind, from_status=from_status,
                   to_status=to_status, note=note, details=details or {})
    session.add(ev)
    audit.record(session, actor, f"case.{kind}", "case", case.id, patient_id=case.patient_id,
                 details=_audit_details(from_status, to_status, details))
    return ev


def _event_row(actor: Actor, kind: str, *, at: dt.datetime | None = None, from_status: str | None = None,
               to_status: str | None = None, note: str | None = None,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``case_events`` row for ``_write_events`` (``case_id`` is filled in there)."""
    return {"at": at or utcnow(), "actor": actor.label, "kind": kind, "from_status": from_status,
            "to_status": to_status, "note": note, "details": details or {}}


_EVENT_KEYS = ("case_id", "at", "actor", "kind", "from_status", "to_status", "note", "details")
_INSERT_EVENTS = Prebuilt(insert(_CASE_EVENTS), list(_EVENT_KEYS))  # executemany, for many rows
# one multi-row INSERT per number of rows, for the few a request writes (a new case's contact writes three):
# one statement where an executemany runs one per row
_INSERT_EVENT_ROWS: dict[int, Prebuilt] = {}
_ONE_STATEMENT_MAX = 16


def _write_events(session: Session, case: Case, rows: list[dict[str, Any]], batch: Batch | None = None) -> None:
    """Insert several events of one case in one statement (their audit is the caller's); ``batch``: queue it
    there instead."""
    if rows and batch is not None:
        _queue_events(batch, case, rows)
    elif rows:
        session.flush()
        at_once = Batch(session.connection())
        _queue_events(at_once, case, rows)
        at_once.send()


def _queue_events(batch: Batch, case: Case, rows: list[dict[str, Any]]) -> None:
    """Queue the INSERT of ``rows`` (``_event_row``) for ``case`` in ``batch``."""
    params = _of_case(case, rows)
    n = len(params)
    if n == 0:
        return
    if n > _ONE_STATEMENT_MAX:
        batch.add_many(_INSERT_EVENTS, params)
        return
    stmt = _INSERT_EVENT_ROWS.get(n)
    if stmt is None:
        stmt = _INSERT_EVENT_ROWS.setdefault(n, Prebuilt(
            insert(_CASE_EVENTS).values(numbered_values(_CASE_EVENTS, _EVENT_KEYS, n))))
    batch.add(stmt, numbered_params(params))


def _of_case(case: Case, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``_event_row`` rows as ``_INSERT_EVENTS`` parameters for ``case``."""
    return [{**r, "case_id": case.id} for r in rows]


def _record(session: Session, actor: Actor, case: Case, kind: str, *, at: dt.datetime | None = None,
            from_status: str | None = None, to_status: str | None = None, note: str | None = None,
            details: dict[str, Any] | None = None) -> None:
    """``_event`` without the ORM object: the case's pending changes are flushed, the event is one INSERT."""
    _write_events(session, case, [_event_row(actor, kind, at=at, from_status=from_status, to_status=to_status,
                                             note=note, details=details)])
    audit.record(session, actor, f"case.{kind}", "case", case.id, patient_id=case.patient_id,
                 details=_audit_details(from_status, to_status, details))


RowT = TypeVar("RowT", bound=Base)


def insert_row(session: Session, obj: RowT, batch: Batch | None = None) -> RowT:
    """Write a new row object (integer ``id`` key) with one plain ``INSERT ... RETURNING id`` and attach it to the
    session as persistent, as a flush would, without the unit of work (the contact path writes its case and
    contact this way, routing its decision rows). ``batch``: ``obj`` has its id already (reserved from the
    sequence); a plain INSERT is queued there, to go when the batch does.

    Columns not set on ``obj`` take their defaults in the row and are expired on ``obj`` (read again if used);
    later changes to ``obj`` are flushed as usual."""
    table = obj.metadata.tables[obj.__tablename__]
    values = {c.key: obj.__dict__[c.key] for c in table.columns if c.key in obj.__dict__}
    if batch is not None:
        if values.get("id") is None:
            raise ValueError("insert_row with a batch needs the row's id")
        batch.add(insert_into(table, values), values)
    else:
        session.flush()
        obj.id = insert_returning_id(session.connection(), table, values)  # type: ignore[attr-defined]
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _routing() -> ModuleType | None:
    # Routing (pxm.operations.routing) decides WHO gets a new case. It is imported lazily, at call time,
    # because routing itself builds on this module; and a deployment (or a test) without the routing feature
    # must still be able to open cases.
    try:
        from pxm.operations.routing import service as routing
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("pxm.operations"):
            return None
        raise
    return routing


@dataclass
class _Opened:
    """A case just opened: its events not yet written, and what routing did (for the one audit event)."""

    case: Case
    events: list[dict[str, Any]]
    audit: dict[str, Any]
    route: bool  # ask routing for an agent (``_route_new``)
    decision_id: int | None = None  # the routing_decisions row written, if any

    def audit_details(self) -> dict[str, Any]:
        details = dict(self.audit)
        if self.decision_id is not None:
            details["routing_decision_id"] = self.decision_id
        return details


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
    patient = _patient(session, patient_id)
    opened = _open(session, actor, patient, reason=reason, priority=priority, channel=channel, source=source,
                   summary=summary, team=team, facility_id=facility_id, opened_at=opened_at,
                   external_ref=external_ref, route=route, schedule_sla=schedule_sla)
    _route_new(session, actor, opened, patient.language, [])
    audit.record(session, actor, "case.opened", "case", opened.case.id, patient_id=patient_id,
                 details=opened.audit_details())
    return opened.case


def _open(session: Session, actor: Actor, patient: _PatientFacts, *, reason: str, priority: str = "normal",
          channel: str | None = None, source: str = "contact", summary: str | None = None, team: str | None = None,
          facility_id: int | None = None, opened_at: dt.datetime | None = None, external_ref: str | None = None,
          route: bool = True, schedule_sla: bool = True, reason_checked: bool = False,
          case_id: int | None = None, batch: Batch | None = None,
          first_response_at: dt.datetime | None = None) -> _Opened:
    """Insert a new case (unassigned) and schedule its SLA checks; ``_route_new`` then routes it.

    The case is written before routing decides, so that routing only updates it. The ``opened`` event is
    returned, not written, so that the case's events go in one statement with the assignment. With ``case_id``
    (reserved from the sequence; the contact path on PostgreSQL) and ``batch``, the case and its jobs are queued
    there: they go in the round trip that takes the routing lock, ahead of it, so that the database writes them
    before the lock is held (the lock is held until the commit, and every new case waits for it)."""
    if not reason_checked:
        _check_reason(session, reason)
    _check_choice(priority, Priority, "priority")
    _check_choice(source, CaseSource, "source")
    if channel is not None:
        _check_choice(channel, Channel, "channel")
    _aware(opened_at, "opened_at")
    now = utcnow()
    case = Case(patient_id=patient.id, reason=reason, priority=priority, status=CaseStatus.new.value,
                channel=channel, source=source, summary=summary, team=team,
                facility_id=facility_id if facility_id is not None else patient.home_facility_id,
                opened_at=opened_at or now, external_ref=external_ref, reopened_count=0,
                first_response_breached=False, resolution_breached=False, assigned_staff_id=None,
                first_response_at=first_response_at, resolved_at=None, closed_at=None, resolution_code=None,
                updated_at=now)
    if case_id is not None:
        case.id = case_id
    case.first_response_due_at, case.resolution_due_at = sla.due_times(session, case, case.opened_at)
    events = [_event_row(actor, "opened", at=case.opened_at, to_status=case.status,
                         details={"reason": reason, "priority": priority, "source": source})]
    insert_row(session, case, batch)
    if schedule_sla:
        sla.schedule_checks(session, case, batch=batch)
    return _Opened(case, events, {"reason": reason, "priority": priority, "source": source}, route)


_C_T = Case.metadata.tables[Case.__tablename__]
# routing's assignment of a case (written without the unit of work: the case object is told with
# ``set_committed_value``)
_ASSIGN = Prebuilt(update(_C_T).where(_C_T.c.id == bindparam("case_id"))
                   .values(assigned_staff_id=bindparam("new_staff"), team=bindparam("new_team"),
                           status=bindparam("new_status"), updated_at=bindparam("now")))


def _queue_assignment(batch: Batch, case: Case, staff_id: int, team: str | None, status: str) -> None:
    now = utcnow()
    batch.add(_ASSIGN, {"case_id": case.id, "new_staff": staff_id, "new_team": team, "new_status": status,
                        "now": now})
    for attr, value in (("assigned_staff_id", staff_id), ("team", team), ("status", status), ("updated_at", now)):
        set_committed_value(case, attr, value)  # as written: nothing for the ORM to flush


def _route_new(session: Session, actor: Actor, opened: _Opened, language: str,
               more_events: list[dict[str, Any]], owner: tuple[int, str | None] | None = None) -> None:
    """Route a case ``_open`` made, and write its events (``opened``, ``assign`` and ``more_events``).

    Routing takes the lock, the agents snapshot, the audit head and the decision row's id in one round trip
    (``plan_route``); on PostgreSQL the assignment, the decision row and the events are then deferred
    (``Batch.defer``) to go with the audit events and the COMMIT: the routing lock is held for two round trips.
    Elsewhere they are sent at once.

    ``owner`` (staff id, team) is the agent who handled the contact that opened the case: the case is theirs,
    assigned by the contact's actor, and routing is not asked."""
    case = opened.case
    routing = _routing() if opened.route and owner is None else None
    plan = routing.plan_route(session, case, language=language, reserve_id=True) if routing is not None else None
    staff_id = plan.decision.staff_id if plan is not None else None
    session.flush()
    batch = Batch(session.connection())
    decision = None
    if owner is not None:
        _queue_assignment(batch, case, owner[0], case.team if case.team is not None else owner[1],
                          CaseStatus.assigned.value)
        opened.events.append(_event_row(actor, "assign", at=case.opened_at, from_status=CaseStatus.new.value,
                                        to_status=case.status, note=HANDLED_FIRST_CONTACT,
                                        details={"staff_id": owner[0]}))
        opened.audit.update(assigned_staff_id=owner[0], assigned_by=actor.label, assigned_because=HANDLED_FIRST_CONTACT)
    if staff_id is not None:
        assert routing is not None and plan is not None
        router = Actor.system("routing", request_id=actor.request_id)
        team = case.team if case.team is not None else plan.team
        _queue_assignment(batch, case, staff_id, team, CaseStatus.assigned.value)
        opened.events.append(_event_row(router, "assign", from_status=CaseStatus.new.value, to_status=case.status,
                                        note=plan.decision.explanation, details={"staff_id": staff_id}))
        opened.audit.update(assigned_staff_id=staff_id, assigned_by=router.label)
    if staff_id is not None:
        assert routing is not None and plan is not None
        decision = routing.add_decision(batch, actor, case, plan)
    elif routing is not None and plan is not None:
        opened.audit["routing"] = "queued"
        opened.decision_id = routing.record_plan(session, actor, case, plan, first=True)
    opened.audit["to"] = case.status
    _queue_events(batch, case, [*opened.events, *more_events])
    if decision is not None and plan is not None and plan.decision_id is not None:
        # the decision's id is known (reserved with the lock): nothing here needs a result, so these writes
        # go with the audit events and the COMMIT, one round trip for all (or before any other statement)
        opened.decision_id = plan.decision_id
        batch.defer()
        return
    batch.send()
    if decision is not None:
        opened.decision_id = int(decision.rows[0][0])


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
    _record(session, actor, case, "reopen" if reopening else "transition", at=when, from_status=current,
            to_status=to_status, note=note, details=details)
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
    session.flush()
    staff = session.connection().execute(_STAFF_FACTS, {"staff_id": staff_id}).first()
    if staff is None:
        raise NotFound("staff member", staff_id)
    if not staff.active:
        raise Conflict(f"staff member {staff.username} is inactive; choose an active agent")
    previous = _assignable(case)
    case.assigned_staff_id = staff_id
    if case.team is None:
        case.team = staff.team
    case.status = _status_once_assigned(previous)
    _record(session, actor, case, "assign", from_status=previous, to_status=case.status, note=reason_text,
            details={"staff_id": staff_id})
    return case


def _assignable(case: Case) -> str:
    """The case's status, if it may be assigned (it is open)."""
    if case.status in DONE_STATUSES:
        raise Conflict(f"case {case.id} is {case.status}; reopen it before assigning")
    return case.status


def _status_once_assigned(status: str) -> str:
    """A new, assigned or in-progress case becomes ``assigned``; one waiting on the patient keeps waiting."""
    return CaseStatus.assigned.value if status in (CaseStatus.new, CaseStatus.assigned, CaseStatus.in_progress) \
        else status


def assign_chosen(batch: Batch, session: Session, actor: Actor, case: Case, staff_id: int, team: str | None, *,
                  reason_text: str) -> None:
    """``assign`` for routing's own choice, queued in ``batch``: the agent comes from routing's snapshot (active,
    its team known), so nothing is read first. The case's row and its ``assign`` event are written when the batch
    is sent; the case object shows the change at once; the audit event is the same as ``assign``'s."""
    previous = _assignable(case)
    status = _status_once_assigned(previous)
    _queue_assignment(batch, case, staff_id, case.team if case.team is not None else team, status)
    details = {"staff_id": staff_id}
    _queue_events(batch, case, [_event_row(actor, "assign", from_status=previous, to_status=status,
                                           note=reason_text, details=details)])
    audit.record(session, actor, "case.assign", "case", case.id, patient_id=case.patient_id,
                 details=_audit_details(previous, status, details))


def unassign(session: Session, actor: Actor, case: Case, *, reason_text: str) -> None:
    """Put an open case back in the queue, owned by nobody, for routing to give out again. A new, assigned or
    in-progress case is ``new`` again; one waiting on the patient keeps waiting."""
    previous = _assignable(case)
    staff_id = case.assigned_staff_id
    if staff_id is None:
        raise Conflict(f"case {case.id} is not assigned to anyone")
    status = previous if previous == CaseStatus.waiting_on_patient else CaseStatus.new.value
    case.assigned_staff_id = None
    case.status = status
    _record(session, actor, case, "unassign", from_status=previous, to_status=status, note=reason_text,
            details={"staff_id": staff_id})


_S = Staff.__table__.c
_STAFF_FACTS = select(_S.username, _S.active, _S.team).where(_S.id == bindparam("staff_id"))
_STAFF_TEAM = select(_S.id, _S.team).where(_S.id == bindparam("staff_id"))


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


_C = Case.__table__.c
_IS_OPEN = _C.status.in_([s.value for s in OPEN_STATUSES])
# prebuilt (see the module docstring): open cases first (newest opened), then done ones resolved in the window
_FIND_CASE = (
    select(_C.id)
    .where(_C.patient_id == bindparam("patient_id"), _C.reason == bindparam("reason"),
           or_(_IS_OPEN, _C.status.in_([s.value for s in DONE_STATUSES])
               & (_C.resolved_at >= bindparam("since")) & (_C.resolved_at <= bindparam("until"))))
    .order_by(sql_case((_IS_OPEN, 0), else_=1), sql_case((_IS_OPEN, _C.opened_at), else_=_C.resolved_at).desc())
    .limit(1)
)


def _find_params(patient_id: int, reason: str, started_at: dt.datetime, window_days: int) -> dict[str, Any]:
    return {"patient_id": patient_id, "reason": reason, "until": started_at,
            "since": started_at - dt.timedelta(days=window_days)}


# a contact without a case id: the patient's facts and the id of the case it joins, in one round trip
_PATIENT_AND_CASE = Prebuilt(select(_P.home_facility_id, _P.preferred_language, _FIND_CASE.scalar_subquery())
                             .where(_P.id == bindparam("patient_id")))


# on PostgreSQL, with them the ids of the contact and (when it joins none) of the case it opens, reserved from
# their sequences: with the ids known, nothing waits for the INSERTs, which go with routing's lock (``_Ids``)
_FOUND = _FIND_CASE.lateral("found")
_PATIENT_CASE_IDS = Prebuilt(
    select(_P.home_facility_id, _P.preferred_language, _FOUND.c.id,
           sql_case((_FOUND.c.id.is_(None), next_id("cases"))), next_id("contacts"))
    .select_from(Patient.__table__.outerjoin(_FOUND, true())).where(_P.id == bindparam("patient_id")))


@dataclass(frozen=True)
class _Ids:
    """Ids reserved for the rows a contact writes: its case's when it opens one, and its own."""

    case: int | None
    contact: int


def _patient_and_case(session: Session, patient_id: int, reason: str, started_at: dt.datetime,
                      window_days: int) -> tuple[_PatientFacts, Case | None, _Ids | None]:
    session.flush()
    reserve = session.get_bind().dialect.name == "postgresql"
    stmt = _PATIENT_CASE_IDS if reserve else _PATIENT_AND_CASE
    row = stmt.first(session.connection(), _find_params(patient_id, reason, started_at, window_days))
    if row is None:
        raise NotFound("patient", patient_id)
    found = None if row[2] is None else session.get(Case, row[2])
    return _PatientFacts(patient_id, row[0], row[1] or "en"), found, _Ids(row[3], row[4]) if reserve else None


def read_ahead_for_contact(session: Session, patient_id: int, reason: str, started_at: dt.datetime,
                           window_days: int = DEFAULT_WINDOW_DAYS) -> None:
    """On PostgreSQL, queue the first lookup of a contact without a case id (the patient, the case it joins, the
    reserved ids) to go in one round trip with the session's next statement, which the API makes the token
    lookup of the request's authentication (``prebuilt.read_ahead``). ``log_contact`` with the same values then
    takes it from there; nothing of it is used unless the caller gets that far, past authentication."""
    if session.get_bind().dialect.name == "postgresql":
        read_ahead(session.connection(), _PATIENT_CASE_IDS, _find_params(patient_id, reason, started_at, window_days))


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
    ids: _Ids | None = None
    if case_id is None:
        patient, found, ids = _patient_and_case(session, patient_id, reason, started_at, window_days)
    else:
        patient, found = _patient(session, patient_id), None
    agent = None if agent_id is None else session.execute(_STAFF_TEAM, {"staff_id": agent_id}).first()
    if agent_id is not None and agent is None:
        raise NotFound("staff member", agent_id)
    if external_id is not None:
        dup = session.execute(select(Contact.id).where(Contact.external_id == external_id)).first()
        if dup is not None:
            raise Conflict(f"contact {external_id!r} is already recorded (contact id {dup[0]})")
    opened: _Opened | None = None
    # with reserved ids (PostgreSQL) the case, its jobs, the contact and (when it joins a case) its event are
    # queued in one batch and deferred: they go ahead of routing's lock in its round trip (written before the
    # lock is held), or with the audit events and the COMMIT
    batch: Batch | None = None
    handled = not abandoned and (agent_id is not None or direction == Direction.outbound)
    if case_id is not None:
        case = get_case(session, case_id)
        if case.patient_id != patient_id:
            raise BadRequest(f"case {case_id} belongs to another patient; omit case_id or pick this patient's case")
    else:
        if found is None:
            batch = Batch(session.connection()) if ids is not None else None
            opened = _open(session, actor, patient, reason=reason, channel=channel,
                           opened_at=min(started_at, queued_at or started_at), route=route, reason_checked=True,
                           case_id=ids.case if ids is not None else None, batch=batch,
                           first_response_at=(answered_at or started_at) if handled else None)
            case = opened.case
        else:
            case = found
    # A repeat contact from the patient reopens a resolved case; an outbound follow-up does not.
    if case.status in DONE_STATUSES and direction == Direction.inbound and not abandoned:
        to = CaseStatus.in_progress if agent_id is not None else (
            CaseStatus.assigned if case.assigned_staff_id else CaseStatus.new)
        transition(session, actor, case.id, to.value, note="reopened by a repeat contact", at=started_at)
    contact = Contact(
        patient_id=patient_id, case_id=case.id, channel=channel, direction=direction, reason=reason,
        agent_id=agent_id, started_at=started_at, ended_at=ended_at, queued_at=queued_at, answered_at=answered_at,
        abandoned=abandoned, resolved=resolved, outcome=outcome, external_id=external_id, created_at=utcnow())
    if ids is not None:
        contact.id = ids.contact
        batch = batch or Batch(session.connection())
    insert_row(session, contact, batch)
    if handled and case.first_response_at is None:  # a case it joins (one it opens was written with it)
        case.first_response_at = answered_at or started_at
    said = {"contact_id": contact.id, "channel": channel, "direction": direction}
    contact_event = _event_row(actor, "contact", at=started_at, note=note, details=said)
    if opened is None:
        _write_events(session, case, [contact_event], batch)
    if batch is not None:
        batch.defer()
    if opened is not None:  # routing last: on PostgreSQL its lock is held from here to the commit
        # a case opened by a contact an agent handled (answered a call, wrote back) is that agent's
        owner = (agent[0], agent[1]) if agent is not None and not abandoned else None
        _route_new(session, actor, opened, patient.language, [contact_event], owner=owner)
    # one audit event for the contact: it names the case it opened (and routing's choice) or joined
    audit.record(session, actor, "case.opened" if opened is not None else "case.contact", "case", case.id,
                 patient_id=case.patient_id, details={**(opened.audit_details() if opened else {}), **said})
    if resolved and case.status not in DONE_STATUSES:
        transition(session, actor, case.id, CaseStatus.resolved.value,
                   resolution_code=resolution_code or RESOLVED_AT_CONTACT, at=ended_at or started_at)
    elif handled and case.status in (CaseStatus.new, CaseStatus.assigned):
        transition(session, actor, case.id, CaseStatus.in_progress.value, at=answered_at or started_at)
    session.flush()
    return contact

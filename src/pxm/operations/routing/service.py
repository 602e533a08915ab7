"""Routing: send each new case to the right agent, sweep the queue, let supervisors reassign.

``route_case`` is called by the service desk (``pxm.practices.resolution``) when a case is opened. It
loads a snapshot of the agents (one query for staff, one grouped count of open cases), asks the pure
engine (``engine.py``) for a decision, assigns the case through the service desk's ``assign`` and stores a
``routing_decisions`` row with the explanation. Services only flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.operations.routing.engine import (
    AVAILABLE,
    AgentPool,
    AgentState,
    Decision,
    Requirements,
    WideningPolicy,
    priority_rank,
)
from pxm.operations.routing.models import RoutingDecision, RoutingSettings
from pxm.platform import audit, jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.permissions import Permission
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import APIError, BadRequest
from pxm.platform.http.lookup import get_or_404
from pxm.platform.people.models import Patient, Staff
from pxm.practices.resolution.models import OPEN_STATUSES, Case

log = logging.getLogger("pxm.routing")

SWEEP_KIND = "routing.sweep_queue"
_OPEN = [s.value for s in OPEN_STATUSES]
_DEFAULTS = RoutingSettings(id=1, step1_after_seconds=120, step2_after_seconds=300, sweep_interval_seconds=30,
                            sweep_batch=500)


# -- settings -----------------------------------------------------------------------------------------
def get_routing_settings(session: Session) -> RoutingSettings:
    row = session.get(RoutingSettings, 1)
    return row if row is not None else _DEFAULTS


def policy_of(settings: RoutingSettings) -> WideningPolicy:
    return WideningPolicy(step1_after_seconds=float(settings.step1_after_seconds),
                          step2_after_seconds=float(settings.step2_after_seconds))


def update_routing_settings(session: Session, actor: Actor, **values: int) -> RoutingSettings:
    """Change the routing settings (audited). Unknown or non-positive values are refused."""
    allowed = {"step1_after_seconds", "step2_after_seconds", "sweep_interval_seconds", "sweep_batch"}
    for name, value in values.items():
        if name not in allowed:
            raise BadRequest(f"{name} is not a routing setting; use one of {', '.join(sorted(allowed))}")
        if not isinstance(value, int) or value < 1:
            raise BadRequest(f"{name} must be a whole number of at least 1")
    row = session.get(RoutingSettings, 1)
    if row is None:
        row = RoutingSettings(id=1, step1_after_seconds=120, step2_after_seconds=300,
                              sweep_interval_seconds=30, sweep_batch=500)
        session.add(row)
    before = {k: getattr(row, k) for k in allowed}
    for name, value in values.items():
        setattr(row, name, value)
    if row.step2_after_seconds < row.step1_after_seconds:
        raise BadRequest("step2_after_seconds must be at least step1_after_seconds (step 2 widens further)")
    row.updated_at = utcnow()
    row.updated_by = actor.label
    session.flush()
    audit.record(session, actor, "routing.settings_update", "routing_settings", 1,
                 details={"before": before, "after": {k: getattr(row, k) for k in allowed}})
    return row


# -- snapshot -----------------------------------------------------------------------------------------
def open_loads(session: Session, staff_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Open cases per assigned agent (one grouped query)."""
    q = (select(Case.assigned_staff_id, func.count())
         .where(Case.assigned_staff_id.is_not(None), Case.status.in_(_OPEN))
         .group_by(Case.assigned_staff_id))
    if staff_ids is not None:
        ids = list(staff_ids)
        if not ids:
            return {}
        q = q.where(Case.assigned_staff_id.in_(ids))
    return {int(sid or 0): int(n) for sid, n in session.execute(q)}


def load_agents(session: Session, *, available_only: bool = True) -> list[AgentState]:
    """The router's view of the agents, in one query (open-case load and last routing as correlated
    subqueries on their indexes). Idle since = the later of becoming available and the last routing."""
    load = (select(func.count()).select_from(Case)
            .where(Case.assigned_staff_id == Staff.id, Case.status.in_(_OPEN)).scalar_subquery())
    last = (select(func.max(RoutingDecision.decided_at))
            .where(RoutingDecision.staff_id == Staff.id).scalar_subquery())
    q = select(Staff.id, Staff.display_name, Staff.status, Staff.capacity, Staff.status_since, Staff.reasons,
               Staff.languages, Staff.channels, Staff.team, load.label("load"), last.label("last_routed")
               ).where(Staff.active.is_(True))
    if available_only:
        q = q.where(Staff.status == AVAILABLE)
    agents = []
    for r in session.execute(q):
        idle = r.status_since
        last_at = r.last_routed
        if isinstance(last_at, str):  # SQLite returns max() of a datetime column as text
            last_at = dt.datetime.fromisoformat(last_at)
        if last_at is not None:
            last_at = last_at if last_at.tzinfo else last_at.replace(tzinfo=dt.UTC)
            if last_at > idle:
                idle = last_at
        agents.append(AgentState(
            staff_id=r.id, name=r.display_name, status=r.status, capacity=r.capacity or 0,
            load=int(r.load or 0), idle_since=idle, reasons=frozenset(r.reasons or ()),
            languages=frozenset(r.languages or ()), channels=frozenset(r.channels or ()), team=r.team,
        ))
    return agents


def requirements_of(session: Session, case: Case, now: dt.datetime | None = None,
                    language: str | None = None) -> Requirements:
    now = now or utcnow()
    if language is None:  # the patient is usually in the session already (the desk just loaded it)
        patient = session.get(Patient, case.patient_id)
        language = (patient.preferred_language if patient is not None else None) or "en"
    opened = case.opened_at or now
    return Requirements(reason=case.reason, language=language, channel=case.channel,
                        priority=priority_rank(case.priority),
                        waited_seconds=max(0.0, (now - opened).total_seconds()))


# -- decisions ----------------------------------------------------------------------------------------
def _store(session: Session, actor: Actor, case: Case, decision: Decision, req: Requirements, kind: str,
           previous_staff_id: int | None = None) -> RoutingDecision:
    row = RoutingDecision(
        case_id=case.id, staff_id=decision.staff_id, previous_staff_id=previous_staff_id, kind=kind,
        step=decision.step, candidates=decision.candidates, basis=decision.basis,
        explanation=decision.explanation, actor=actor.label, decided_at=utcnow(),
        requirements={"reason": req.reason, "language": req.language, "channel": req.channel,
                      "priority": case.priority, "waited_seconds": int(req.waited_seconds)},
    )
    session.add(row)
    session.flush()
    return row


def _assign(session: Session, actor: Actor, case: Case, staff_id: int, reason_text: str) -> None:
    from pxm.practices.resolution import service as resolution

    resolution.assign(session, actor, case.id, staff_id, reason_text=reason_text)


def _last_decision(session: Session, case_id: int) -> RoutingDecision | None:
    return session.execute(
        select(RoutingDecision).where(RoutingDecision.case_id == case_id)
        .order_by(RoutingDecision.decided_at.desc(), RoutingDecision.id.desc()).limit(1)
    ).scalar_one_or_none()


def _routable(case: Case) -> bool:
    return case.assigned_staff_id is None and case.status in _OPEN


def route_case(session: Session, actor: Actor, case: Case, *, now: dt.datetime | None = None,
               pool: AgentPool | None = None, kind: str = "auto") -> RoutingDecision | None:
    """Assign ``case`` to the best agent now. Returns the stored decision, or None when the case waits.

    A case nobody qualifies for stays unassigned; a ``queued`` decision explains why (once per widening
    step) and the queue sweep is scheduled to try again.
    """
    if not _routable(case):
        return None
    now = now or utcnow()
    settings = get_routing_settings(session)
    req = requirements_of(session, case, now)
    if pool is None:
        pool = AgentPool(load_agents(session))
    decision = pool.decide(req, policy_of(settings), assign=True, now=now)
    router = Actor.system("routing", request_id=actor.request_id)
    if decision.staff_id is None:
        last = _last_decision(session, case.id)
        if last is None or last.kind != "queued" or last.step != decision.step:
            _store(session, router, case, decision, req, "queued")
        schedule_sweep(session, settings, now)
        return None
    row = _store(session, router, case, decision, req, kind)
    _assign(session, router, case, decision.staff_id, decision.explanation)
    return row


# -- the queue sweep ----------------------------------------------------------------------------------
def schedule_sweep(session: Session, settings: RoutingSettings | None = None,
                   now: dt.datetime | None = None) -> None:
    """Make sure a sweep job is due at the next slot (one job per slot, whoever asks)."""
    settings = settings or get_routing_settings(session)
    now = now or utcnow()
    every = max(1, settings.sweep_interval_seconds)
    slot = (int(now.timestamp()) // every + 1) * every
    jobs.enqueue(session, SWEEP_KIND, {"slot": slot}, dedupe_key=f"{SWEEP_KIND}@{slot}",
                 run_after=dt.datetime.fromtimestamp(slot, dt.UTC))


def _priority_order() -> Any:
    return sql_case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Case.priority, else_=2)


def queued_cases(session: Session, limit: int) -> list[Case]:
    """Unassigned open cases, most urgent first, then oldest first."""
    return list(session.execute(
        select(Case).where(Case.assigned_staff_id.is_(None), Case.status.in_(_OPEN))
        .order_by(_priority_order(), Case.opened_at, Case.id).limit(limit)
    ).scalars())


def reroute_queue(session: Session, actor: Actor, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Re-evaluate waiting cases in priority order then age; widen those that waited past the settings."""
    now = now or utcnow()
    settings = get_routing_settings(session)
    cases = queued_cases(session, settings.sweep_batch)
    if not cases:
        return {"considered": 0, "assigned": 0, "waiting": 0}
    languages = dict(session.execute(
        select(Patient.id, Patient.preferred_language).where(Patient.id.in_({c.patient_id for c in cases}))
    ).all())
    pool = AgentPool(load_agents(session))
    policy = policy_of(settings)
    router = Actor.system("routing", request_id=actor.request_id)
    assigned = 0
    waiting = 0
    for case in cases:
        req = requirements_of(session, case, now, language=languages.get(case.patient_id) or "en")
        decision = pool.decide(req, policy, assign=True, now=now)
        if decision.staff_id is None:
            waiting += 1
            last = _last_decision(session, case.id)
            if last is None or last.kind != "queued" or last.step != decision.step:
                _store(session, router, case, decision, req, "queued")
            continue
        _store(session, router, case, decision, req, "sweep")
        _assign(session, router, case, decision.staff_id, decision.explanation)
        assigned += 1
    if waiting:
        schedule_sweep(session, settings, now)
    return {"considered": len(cases), "assigned": assigned, "waiting": waiting}


# -- supervisor reassignment --------------------------------------------------------------------------
def reassign(session: Session, actor: Actor, case_id: int, staff_id: int, *, note: str | None = None
             ) -> RoutingDecision:
    """A supervisor moves a case to another agent (needs cases:assign; audited)."""
    if not actor.can(Permission.cases_assign):
        raise APIError(403, "forbidden", f"your role ({actor.role}) lacks the permission "
                                         f"{Permission.cases_assign.value} needed to reassign cases")
    case = get_or_404(session, Case, case_id, "case")
    if case.status not in _OPEN:
        raise BadRequest(f"case {case_id} is {case.status}; only open cases can be reassigned")
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise BadRequest(f"staff_id {staff_id} is not an active staff member; pick an agent from the list")
    if case.assigned_staff_id == staff_id:
        raise BadRequest(f"case {case_id} is already assigned to {staff.display_name}")
    previous = case.assigned_staff_id
    text = f"reassigned by {actor.name} to {staff.display_name}"
    if note:
        text += f": {note.strip()[:300]}"
    req = requirements_of(session, case)
    decision = Decision(staff_id=staff_id, agent_name=staff.display_name, step=0, max_step=0, candidates=1,
                        explanation=text, basis="supervisor")
    row = _store(session, actor, case, decision, req, "reassign", previous_staff_id=previous)
    _assign(session, actor, case, staff_id, text)
    audit.record(session, actor, "case.reassign", "case", case_id,
                 details={"from_staff_id": previous, "to_staff_id": staff_id, "routing_decision_id": row.id})
    return row


def decisions_for_case(session: Session, case_id: int) -> list[RoutingDecision]:
    return list(session.execute(
        select(RoutingDecision).where(RoutingDecision.case_id == case_id)
        .order_by(RoutingDecision.decided_at, RoutingDecision.id)
    ).scalars())


def recent_decisions(session: Session, limit: int = 50) -> list[RoutingDecision]:
    return list(session.execute(
        select(RoutingDecision).order_by(RoutingDecision.id.desc()).limit(limit)
    ).scalars())


__all__ = ["route_case", "reroute_queue", "reassign", "schedule_sweep", "load_agents", "open_loads",
           "get_routing_settings", "update_routing_settings", "decisions_for_case", "recent_decisions",
           "queued_cases"]

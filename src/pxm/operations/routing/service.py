"""Routing: send each new case to the right agent, sweep the queue, let supervisors reassign.

The service desk (``pxm.practices.resolution``) routes a case as it opens it, after writing the case
unassigned: ``plan_route`` takes the routing lock and a snapshot of the agents (one query: skills, status,
open-case load, last routing) in one round trip (``locked_snapshot``) and asks the pure engine (``engine.py``)
for a decision; the desk then writes the assignment with the ``routing_decisions`` row (``add_decision``), or,
when nobody qualifies, ``record_plan`` writes a ``queued`` row and schedules the queue sweep. ``route_case``
(a case that exists, routed later) and the sweep (``reroute_queue``) do both themselves and assign through the
service desk's ``assign_chosen``: the decision rows, case rows and events are queued in one ``Batch`` and
deferred, so on PostgreSQL they reach the server with the audit events and the COMMIT instead of a round
trip per case while the lock is held. Services only flush; the caller commits.

Concurrency: on PostgreSQL a routing decision holds a transaction-scoped advisory lock (``locked_snapshot``)
from the snapshot to the commit, so two transactions never decide on the same loads and an agent's
capacity holds; on SQLite the write lock every transaction takes at ``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, select, text
from sqlalchemy import case as sql_case
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
from pxm.platform.db.prebuilt import (
    Batch,
    Call,
    Prebuilt,
    insert_into,
    insert_returning,
    insert_returning_id,
    next_id,
)
from pxm.platform.http.errors import BadRequest, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404
from pxm.platform.people.models import Patient, Staff
from pxm.practices.resolution import reference
from pxm.practices.resolution import service as resolution
from pxm.practices.resolution.models import OPEN_STATUSES, Case
from pxm.practices.resolution.service import insert_row

log = logging.getLogger("pxm.routing")

SWEEP_KIND = "routing.sweep_queue"
KNOBS_TTL = 5.0  # seconds
ROUTING_LOCK_KEY = 0x5058_4D52  # PostgreSQL advisory lock key ("PXMR")
_LOCKED = "pxm_routing_locked"
_LOCK = Prebuilt(text("SELECT pg_advisory_xact_lock(:key)"))
_NEXT_ID = next_id("routing_decisions")
_NEXT_DECISION_ID = Prebuilt(select(_NEXT_ID))
_NEXT_DECISION_ID_AND_LOCK = Prebuilt(select(_NEXT_ID, func.pg_advisory_xact_lock(bindparam("key"))))  # one statement
_OPEN = [s.value for s in OPEN_STATUSES]
_DEFAULTS = RoutingSettings(id=1, step1_after_seconds=120, step2_after_seconds=300, sweep_interval_seconds=30,
                            sweep_batch=500)


# -- settings -----------------------------------------------------------------------------------------
def get_routing_settings(session: Session) -> RoutingSettings:
    row = session.get(RoutingSettings, 1)
    return row if row is not None else _DEFAULTS


@dataclass(frozen=True)
class Knobs:
    """The routing settings as a plain value (what routing reads on every case; see ``knobs``)."""

    step1_after_seconds: int
    step2_after_seconds: int
    sweep_interval_seconds: int
    sweep_batch: int


def _load_knobs(session: Session) -> Knobs:
    s = get_routing_settings(session)
    return Knobs(s.step1_after_seconds, s.step2_after_seconds, s.sweep_interval_seconds, s.sweep_batch)


reference.watch(RoutingSettings)


def knobs(session: Session) -> Knobs:
    """The routing settings, read at most every few seconds per process (``update_routing_settings`` in this
    process is seen at once; another server process sees it within ``KNOBS_TTL`` seconds)."""
    return reference.cached(session, "routing.settings", _load_knobs, ttl=KNOBS_TTL)


def policy_of(settings: RoutingSettings | Knobs) -> WideningPolicy:
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


@lru_cache(maxsize=4096)
def _skills(raw: str | None) -> frozenset[str]:
    """A JSON list of codes as a set; the same text is parsed once per process (skill lists repeat)."""
    return frozenset(json.loads(raw)) if raw else frozenset()


def _needs_lock(session: Session) -> bool:
    """Whether this transaction still has to take the routing lock (PostgreSQL; once per transaction).

    Without the lock two transactions could both see an agent one case below capacity and both assign. SQLite
    needs none: every PXM transaction holds the database's write lock from ``BEGIN IMMEDIATE``."""
    tx = session.get_transaction()
    return session.get_bind().dialect.name == "postgresql" and (tx is None or session.info.get(_LOCKED) is not tx)


# An agent has a skill when its JSON list holds the code; written per dialect so that the database skips the
# open-case count of every agent who cannot take the case anyway.
_HAS_SKILL = {
    "sqlite": "EXISTS (SELECT 1 FROM json_each(staff.{column}) WHERE json_each.value = :{param})",
    "postgresql": "staff.{column} @> CAST(:{param} AS jsonb)",  # (jsonb columns there)
}


def _agents_query(available_only: bool, skilled_in: str | None = None) -> Any:
    st, c, rd = Staff.__table__.c, Case.__table__.c, RoutingDecision.__table__.c
    load = (select(func.count()).select_from(Case.__table__)
            .where(c.assigned_staff_id == st.id, c.status.in_(_OPEN)).scalar_subquery())
    last = select(func.max(rd.decided_at)).where(rd.staff_id == st.id).scalar_subquery()
    # skills come as JSON text and are parsed through ``_skills`` (memoised by content)
    q = select(st.id, st.display_name, st.status, st.capacity, st.status_since,
               cast(st.reasons, Text).label("reasons"), cast(st.languages, Text).label("languages"),
               cast(st.channels, Text).label("channels"), st.team, load.label("load"),
               last.label("last_routed")).where(st.active.is_(True))
    if available_only:
        q = q.where(st.status == AVAILABLE)
    if skilled_in is not None:
        has = _HAS_SKILL[skilled_in]
        q = q.where(text(has.format(column="reasons", param="skill_reason")),
                    text(has.format(column="languages", param="skill_language")))
    return q


# prebuilt: the snapshot runs for every new case, and building the statement cost more than running it
_AGENTS: dict[tuple[bool, str | None], Prebuilt] = {(True, None): Prebuilt(_agents_query(True)),
                                                    (False, None): Prebuilt(_agents_query(False))}
_AGENTS.update({(True, d): Prebuilt(_agents_query(True, d)) for d in _HAS_SKILL})


def load_agents(session: Session, *, available_only: bool = True,
                skills: tuple[str, str] | None = None) -> list[AgentState]:
    """The router's view of the agents, in one query (open-case load and last routing as correlated
    subqueries on their indexes). Idle since = the later of becoming available and the last routing.

    ``skills`` = (reason, language): only the available agents with both, which is all a decision at widening
    step 0 looks at (a case that has not waited yet), so the database counts open cases for those only."""
    session.flush()  # pending assignments count (what autoflush would do)
    stmt, params = _agents_statement(session, available_only, skills)
    return agent_states(stmt.rows(session.connection(), params))


def _agents_statement(session: Session, available_only: bool,
                      skills: tuple[str, str] | None) -> tuple[Prebuilt, dict[str, str]]:
    params: dict[str, str] = {}
    key: tuple[bool, str | None] = (available_only, None)
    dialect = session.get_bind().dialect.name
    if skills is not None and available_only and dialect in _HAS_SKILL:
        key = (True, dialect)
        wrap = json.dumps if dialect == "postgresql" else _same
        params = {"skill_reason": wrap([skills[0]]), "skill_language": wrap([skills[1]])}
    return _AGENTS[key], params


def locked_snapshot(session: Session, skills: tuple[str, str] | None, *,
                    reserve_id: bool = False) -> tuple[list[AgentState], int | None]:
    """The routing lock, ``load_agents`` (available agents) and the audit chain's head lock in one round trip:
    on PostgreSQL they go in one pipeline. Still separate statements, run in order, so the snapshot's
    statement starts after the lock is held and sees every decision committed before it. ``reserve_id``: with
    them, on PostgreSQL, the next id of ``routing_decisions`` (returned; None elsewhere)."""
    session.flush()
    stmt, params = _agents_statement(session, True, skills)
    batch = Batch(session.connection())
    locking = _needs_lock(session)
    reserve = reserve_id and session.get_bind().dialect.name == "postgresql"
    reserved = None
    if locking:
        lock_params = {"key": ROUTING_LOCK_KEY}
        if reserve:
            reserved = batch.add(_NEXT_DECISION_ID_AND_LOCK, lock_params)
        else:
            batch.add(_LOCK, lock_params)
    agents = batch.add(stmt, params)
    # a decision is audited (the case opened or assigned): lock the chain's head now, not in a round trip of
    # its own at commit (the routing lock is held until then anyway)
    hold_head = audit.lock_head_in(session, batch)
    if reserve and reserved is None:
        reserved = batch.add(_NEXT_DECISION_ID)
    batch.send()
    hold_head()
    if locking:
        session.info[_LOCKED] = session.get_transaction()
    return agent_states(agents.rows), int(reserved.rows[0][0]) if reserved is not None else None


def agent_states(rows: Iterable[Sequence[Any]]) -> list[AgentState]:
    agents = []
    for staff_id, name, status, capacity, idle, reasons, languages, channels, team, load, last_at in rows:
        if isinstance(last_at, str):  # SQLite returns max() of a datetime column as text
            last_at = dt.datetime.fromisoformat(last_at)
        if last_at is not None:
            last_at = last_at if last_at.tzinfo else last_at.replace(tzinfo=dt.UTC)
            if last_at > idle:
                idle = last_at
        agents.append(AgentState(staff_id, name, status, capacity or 0, int(load or 0), idle, _skills(reasons),
                                 _skills(languages), _skills(channels), team))
    return agents


def _same(codes: list[str]) -> str:
    return codes[0]  # SQLite compares each json_each value with the bare code


_PATIENT_LANGUAGE = (select(Patient.__table__.c.preferred_language)
                     .where(Patient.__table__.c.id == bindparam("patient_id")))


def requirements_of(session: Session, case: Case, now: dt.datetime | None = None,
                    language: str | None = None) -> Requirements:
    now = now or utcnow()
    if language is None:  # one column: loading the patient would decrypt its PHI for nothing
        language = session.connection().execute(_PATIENT_LANGUAGE, {"patient_id": case.patient_id}).scalar() or "en"
    opened = case.opened_at or now
    return Requirements(reason=case.reason, language=language, channel=case.channel,
                        priority=priority_rank(case.priority),
                        waited_seconds=max(0.0, (now - opened).total_seconds()))


# -- decisions ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A routing decision for one case, made before it is written down (``record_plan``)."""

    decision: Decision
    req: Requirements
    knobs: Knobs
    now: dt.datetime
    team: str | None  # the chosen agent's team (None when the case waits)
    decision_id: int | None = None  # the id reserved for its decision row (``reserve_id``), if any


def plan_route(session: Session, case: Case, *, now: dt.datetime | None = None, language: str | None = None,
               pool: AgentPool | None = None, reserve_id: bool = False) -> Plan:
    """Decide who takes ``case`` (which need not be in the database yet; nothing is written). Without ``pool``
    this takes the routing lock and loads the agents; with one (the sweep) the caller did both.

    ``reserve_id``: on PostgreSQL also reserve the id of the decision row in the same round trip, so that a
    caller can name the row (in its audit event) before writing it (``add_decision``)."""
    now = now or utcnow()
    settings = knobs(session)
    policy = policy_of(settings)
    req = requirements_of(session, case, now, language=language)
    if pool is None:
        # a case that has not waited is decided at step 0 (reason and language): only those agents are needed
        skills = (req.reason, req.language) if policy.max_step(req.waited_seconds) == 0 else None
        agents, reserved = locked_snapshot(session, skills, reserve_id=reserve_id)
        pool = AgentPool(agents)
    else:
        reserved = None
    decision = pool.decide(req, policy, assign=True, now=now)
    team = pool.agent(decision.staff_id).team if decision.staff_id is not None else None
    return Plan(decision, req, settings, now, team, reserved)


def record_plan(session: Session, actor: Actor, case: Case, plan: Plan, *, first: bool = False) -> int | None:
    """Write down a plan for ``case`` (which the service desk assigns itself): the ``auto`` decision row, or,
    when the case waits, a ``queued`` row (once per widening step; ``first``: the case is new, so it has no
    earlier row) and the queue sweep. One plain INSERT; returns the id of the row written, if any."""
    router = Actor.system("routing", request_id=actor.request_id)
    decision = plan.decision
    if decision.staff_id is not None:
        return _insert_decision(session, router, case, decision, plan.req, "auto")
    row_id = None
    last = None if first else _last_decision(session, case.id)
    if last is None or last.kind != "queued" or last.step != decision.step:
        row_id = _insert_decision(session, router, case, decision, plan.req, "queued")
    schedule_sweep(session, plan.knobs, plan.now)
    return row_id


def add_decision(batch: Batch, actor: Actor, case: Case, plan: Plan) -> Call:
    """Queue the ``auto`` decision row of a plan that chose an agent in ``batch`` (the service desk writes it with
    the case's assignment and events); after ``batch.send()`` the call's ``rows[0][0]`` is the row's id (the
    plan's reserved id, when it has one)."""
    router = Actor.system("routing", request_id=actor.request_id)
    values = _decision_values(router, case, plan.decision, plan.req, "auto")
    if plan.decision_id is not None:
        values = {"id": plan.decision_id, **values}
    return batch.add(insert_returning(_DECISIONS, values), values)


def _decision_values(actor: Actor, case: Case, decision: Decision, req: Requirements, kind: str,
                     previous_staff_id: int | None = None) -> dict[str, Any]:
    return {"case_id": case.id, "staff_id": decision.staff_id, "previous_staff_id": previous_staff_id,
            "kind": kind, "step": decision.step, "candidates": decision.candidates, "basis": decision.basis,
            "explanation": decision.explanation, "actor": actor.label, "decided_at": utcnow(),
            "requirements": {"reason": req.reason, "language": req.language, "channel": req.channel,
                             "priority": case.priority, "waited_seconds": int(req.waited_seconds)}}


_DECISIONS = RoutingDecision.metadata.tables[RoutingDecision.__tablename__]


def _insert_decision(session: Session, actor: Actor, case: Case, decision: Decision, req: Requirements,
                     kind: str) -> int:
    session.flush()
    return insert_returning_id(session.connection(), _DECISIONS, _decision_values(actor, case, decision, req, kind))


def _store(session: Session, actor: Actor, case: Case, decision: Decision, req: Requirements, kind: str,
           previous_staff_id: int | None = None) -> RoutingDecision:
    return insert_row(session, RoutingDecision(**_decision_values(actor, case, decision, req, kind,
                                                                    previous_staff_id)))


def _last_decision(session: Session, case_id: int) -> RoutingDecision | None:
    return session.execute(
        select(RoutingDecision).where(RoutingDecision.case_id == case_id)
        .order_by(RoutingDecision.decided_at.desc(), RoutingDecision.id.desc()).limit(1)
    ).scalar_one_or_none()


def _routable(case: Case) -> bool:
    return case.assigned_staff_id is None and case.status in _OPEN


def route_case(session: Session, actor: Actor, case: Case, *, now: dt.datetime | None = None,
               pool: AgentPool | None = None, kind: str = "auto") -> RoutingDecision | None:
    """Assign ``case`` (already in the database) to the best agent now. Returns the stored decision, or None
    when the case waits.

    A case nobody qualifies for stays unassigned; a ``queued`` decision explains why (once per widening
    step) and the queue sweep is scheduled to try again.
    """
    if not _routable(case):
        return None
    plan = plan_route(session, case, now=now, pool=pool, reserve_id=True)
    router = Actor.system("routing", request_id=actor.request_id)
    decision = plan.decision
    if decision.staff_id is None:
        last = _last_decision(session, case.id)
        if last is None or last.kind != "queued" or last.step != decision.step:
            _store(session, router, case, decision, plan.req, "queued")
        schedule_sweep(session, plan.knobs, plan.now)
        return None
    # with the decision row's id reserved (PostgreSQL) nothing here needs a result: the row, the assignment and
    # its event wait (``Batch.defer``) and go with the audit events and the COMMIT
    batch = Batch(session.connection())
    row = RoutingDecision(**_decision_values(router, case, decision, plan.req, kind))
    if plan.decision_id is not None:
        row.id = plan.decision_id
    insert_row(session, row, batch if plan.decision_id is not None else None)
    resolution.assign_chosen(batch, session, router, case, decision.staff_id, plan.team,
                             reason_text=decision.explanation)
    batch.defer()
    return row


# -- the queue sweep ----------------------------------------------------------------------------------
def schedule_sweep(session: Session, settings: RoutingSettings | Knobs | None = None,
                   now: dt.datetime | None = None) -> None:
    """Make sure a sweep job is due at the next slot (one job per slot, whoever asks)."""
    settings = settings or knobs(session)
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
    settings = knobs(session)
    cases = queued_cases(session, settings.sweep_batch)
    if not cases:
        return {"considered": 0, "assigned": 0, "waiting": 0}
    languages = _languages(session, cases)
    pool = AgentPool(locked_snapshot(session, None)[0])
    router = Actor.system("routing", request_id=actor.request_id)
    assigned = 0
    waiting = 0
    # the assignments (decision row, case row, event) are queued and go to the database together, at the commit:
    # the routing lock is held from the snapshot to then, so not a round trip per case while others wait for it
    batch = Batch(session.connection())
    for case in cases:
        plan = plan_route(session, case, now=now, language=languages.get(case.patient_id) or "en", pool=pool)
        decision = plan.decision
        if decision.staff_id is None:
            waiting += 1
            last = _last_decision(session, case.id)
            if last is None or last.kind != "queued" or last.step != decision.step:
                _store(session, router, case, decision, plan.req, "queued")
            continue
        values = _decision_values(router, case, decision, plan.req, "sweep")
        batch.add(insert_into(_DECISIONS, values), values)
        resolution.assign_chosen(batch, session, router, case, decision.staff_id, plan.team,
                                 reason_text=decision.explanation)
        assigned += 1
    batch.defer()
    if waiting:
        schedule_sweep(session, settings, now)
    return {"considered": len(cases), "assigned": assigned, "waiting": waiting}


def _languages(session: Session, cases: Sequence[Case]) -> dict[int, str]:
    """The preferred language of each case's patient (one column: nothing of the patients' PHI is decrypted)."""
    return {int(i): lang or "en" for i, lang in session.execute(
        select(Patient.id, Patient.preferred_language).where(Patient.id.in_({c.patient_id for c in cases})))}


# -- supervisor reassignment --------------------------------------------------------------------------
def reassign(session: Session, actor: Actor, case_id: int, staff_id: int, *, note: str | None = None
             ) -> RoutingDecision:
    """A supervisor moves a case to another agent (needs cases:assign; audited)."""
    actor.ensure(Permission.cases_assign, "reassign cases")
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
    resolution.assign(session, actor, case.id, staff_id, reason_text=text)
    audit.record(session, actor, "case.reassign", "case", case_id,
                 details={"from_staff_id": previous, "to_staff_id": staff_id, "routing_decision_id": row.id})
    return row


def _lock_routing(session: Session) -> None:
    """Take the routing lock for this transaction (PostgreSQL; ``_needs_lock``), alone, without a snapshot."""
    if _needs_lock(session):
        session.flush()
        _LOCK.rows(session.connection(), {"key": ROUTING_LOCK_KEY})
        session.info[_LOCKED] = session.get_transaction()


def take(session: Session, actor: Actor, case_id: int, staff: Staff) -> RoutingDecision:
    """An agent takes a case waiting in the queue (pulls it) instead of waiting for routing to give it out.

    Only a case nobody owns: a supervisor reassigns the others. The routing lock is taken first, so the sweep,
    or another agent taking the same case, cannot give it out at the same moment; the case is read again
    under it. The case becomes ``staff``'s as a routing assignment would (status, team, an ``assign`` event and
    its audit event), and a ``take`` decision row says who took it."""
    actor.ensure(Permission.cases_write, "take a case")
    if not staff.active:
        raise BadRequest(f"{staff.display_name} is not an active staff member")
    _lock_routing(session)
    case = get_or_404(session, Case, case_id, "case")
    session.refresh(case)  # as the last committed change left it, now that the lock is held
    if case.status not in _OPEN:
        raise Conflict(f"case {case_id} is {case.status}; only open cases can be taken")
    if case.assigned_staff_id == staff.id:
        raise Conflict(f"case {case_id} is already yours")
    if case.assigned_staff_id is not None:
        owner = session.get(Staff, case.assigned_staff_id)
        raise Conflict(f"case {case_id} is already assigned to {owner.display_name if owner else 'someone'}; "
                       "a supervisor can reassign it")
    text = f"taken from the queue by {staff.display_name}"
    decision = Decision(staff_id=staff.id, agent_name=staff.display_name, step=0, max_step=0, candidates=1,
                        explanation=text, basis="agent")
    row = _store(session, actor, case, decision, requirements_of(session, case), "take")
    resolution.assign(session, actor, case.id, staff.id, reason_text=text)
    return row


def deactivated_holders(session: Session) -> list[tuple[int, str, int]]:
    """Deactivated staff members who still hold open cases (id, name, how many): routing no longer sees them,
    so nobody works those cases until a supervisor hands them back."""
    rows = session.execute(
        select(Staff.id, Staff.display_name, func.count(Case.id)).join(Case, Case.assigned_staff_id == Staff.id)
        .where(Staff.active.is_(False), Case.status.in_(_OPEN)).group_by(Staff.id, Staff.display_name)
        .order_by(Staff.display_name))
    return [(int(i), str(name), int(n)) for i, name, n in rows]


def hand_back(session: Session, actor: Actor, staff_id: int, *, note: str | None = None,
              now: dt.datetime | None = None) -> dict[str, Any]:
    """A supervisor hands an agent's open cases back to routing (the agent went home ill, or is leaving).

    Most urgent first, then oldest, each case goes to the best available agent other than them, as the queue
    sweep would route it (skills, language, load; widened by how long the case has been open); one that nobody
    qualifies for now goes back to the queue, unassigned, for the sweep. Every move is a routing decision that
    names the agent it came from (``handback``, or ``queued`` when it waits), a case event and an audit event;
    one more audit event (``staff.cases_handed_back``) counts them. The agent's own status is theirs to set."""
    actor.ensure(Permission.cases_assign, "hand back an agent's cases")
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("staff member", staff_id)
    now = now or utcnow()
    # the routing lock (with the agents) first: the cases are then read as the last commit left them, so a case
    # the agent resolved, or the sweep moved, a moment ago is not handed on
    agents = locked_snapshot(session, None)[0]
    cases = list(session.execute(
        select(Case).where(Case.assigned_staff_id == staff_id, Case.status.in_(_OPEN))
        .order_by(_priority_order(), Case.opened_at, Case.id)).scalars())
    whence = f"handed back from {staff.display_name} by {actor.name}"
    if note and note.strip():
        whence += f" ({note.strip()[:300]})"
    moves: list[dict[str, Any]] = []
    if cases:
        languages = _languages(session, cases)
        pool = AgentPool(a for a in agents if a.staff_id != staff_id)
        settings = knobs(session)
        batch = Batch(session.connection())
        for case in cases:
            plan = plan_route(session, case, now=now, language=languages.get(case.patient_id, "en"), pool=pool)
            decision = replace(plan.decision, explanation=f"{whence}; {plan.decision.explanation}")
            if decision.staff_id is None:
                resolution.unassign(session, actor, case, reason_text=decision.explanation)
                _store(session, actor, case, decision, plan.req, "queued", previous_staff_id=staff_id)
            else:
                values = _decision_values(actor, case, decision, plan.req, "handback", previous_staff_id=staff_id)
                batch.add(insert_into(_DECISIONS, values), values)
                resolution.assign_chosen(batch, session, actor, case, decision.staff_id, plan.team,
                                         reason_text=decision.explanation)
            moves.append({"case_id": case.id, "staff_id": decision.staff_id, "agent": decision.agent_name,
                          "explanation": decision.explanation})
        batch.defer()
        if any(m["staff_id"] is None for m in moves):
            schedule_sweep(session, settings, now)
    queued = sum(1 for m in moves if m["staff_id"] is None)
    summary = {"staff_id": staff_id, "cases": len(moves), "reassigned": len(moves) - queued, "queued": queued}
    audit.record(session, actor, "staff.cases_handed_back", "staff", staff_id, details=summary)
    return {**summary, "agent": staff.display_name, "moves": moves}


def decisions_for_case(session: Session, case_id: int) -> list[RoutingDecision]:
    return list(session.execute(
        select(RoutingDecision).where(RoutingDecision.case_id == case_id)
        .order_by(RoutingDecision.decided_at, RoutingDecision.id)
    ).scalars())


def recent_decisions(session: Session, limit: int = 50) -> list[RoutingDecision]:
    return list(session.execute(
        select(RoutingDecision).order_by(RoutingDecision.id.desc()).limit(limit)
    ).scalars())


__all__ = ["route_case", "plan_route", "record_plan", "locked_snapshot", "knobs", "reroute_queue", "reassign", "hand_back", "take",
           "schedule_sweep", "load_agents", "open_loads", "get_routing_settings", "update_routing_settings",
           "decisions_for_case", "recent_decisions", "queued_cases"]

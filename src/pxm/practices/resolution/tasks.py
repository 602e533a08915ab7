"""``sla.check``: escalate a case whose SLA target passed while it was still unmet.

The job is enqueued when the case opens (or reopens), with ``run_after`` = the due time, so a crashed
worker loses nothing: the sweep re-drives the job. The handler is idempotent: an ``escalations`` row is
written at most once per case, target and cycle (a unique constraint backs this up), and a case that met
its target, or was reopened into a newer cycle, is left alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform import jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.jobs.models import Job
from pxm.platform.people.models import Staff
from pxm.practices.resolution.models import DONE_STATUSES, PRIORITY_ORDER, Case, Escalation, Priority
from pxm.practices.resolution.service import _event
from pxm.practices.resolution.sla import SLA_JOB


def raised(priority: str) -> str:
    """The priority an escalation raises ``priority`` to (one step up, at most urgent)."""
    order = [p.value for p in PRIORITY_ORDER]
    i = order.index(priority) if priority in order else order.index(Priority.normal.value)
    return order[min(i + 1, len(order) - 1)]


def _supervisor(session: Session, case: Case) -> int | None:
    stmt = select(Staff.id).where(Staff.job_role == "supervisor", Staff.active.is_(True)).order_by(Staff.id)
    if case.team is not None:
        row = session.execute(stmt.where(Staff.team == case.team).limit(1)).first()
        if row is not None:
            return int(row[0])
    row = session.execute(stmt.limit(1)).first()
    return None if row is None else int(row[0])


def check_sla(session: Session, case_id: int, target: str, cycle: int, job_id: int | None = None) -> dict[str, Any]:
    case = session.get(Case, case_id)
    if case is None:
        return {"outcome": "case_gone"}
    if cycle != case.reopened_count:
        return {"outcome": "superseded"}  # the case was reopened; a newer check covers the new cycle
    if target == "first_response":
        due, met = case.first_response_due_at, case.first_response_at
    else:
        due, met = case.resolution_due_at, case.resolved_at if case.status in DONE_STATUSES else None
    if due is None:
        return {"outcome": "no_target"}
    if met is not None and met <= due:
        return {"outcome": "met"}
    now = utcnow()
    if met is None and now < due:
        # The due time moved later (e.g. a reopening recomputed it): check again then.
        jobs.enqueue(session, SLA_JOB, {"case_id": case.id, "target": target, "cycle": cycle},
                     dedupe_key=f"sla:{case.id}:{target}:{cycle}:{due.isoformat()}", run_after=due)
        return {"outcome": "rescheduled"}
    existing = session.execute(
        select(Escalation.id).where(Escalation.case_id == case.id, Escalation.target == target,
                                    Escalation.cycle == cycle)
    ).first()
    if existing is not None:
        return {"outcome": "already_escalated", "escalation_id": int(existing[0])}
    previous = case.priority
    case.priority = raised(previous)
    if target == "first_response":
        case.first_response_breached = True
    else:
        case.resolution_breached = True
    esc = Escalation(case_id=case.id, target=target, cycle=cycle, due_at=due, escalated_at=now,
                     previous_priority=previous, new_priority=case.priority,
                     supervisor_staff_id=_supervisor(session, case), job_id=job_id)
    session.add(esc)
    session.flush()
    _event(session, Actor.system("sla"), case, "escalation", at=now,
           details={"target": target, "cycle": cycle, "escalation_id": esc.id, "priority": [previous, case.priority],
                    "supervisor_staff_id": esc.supervisor_staff_id})
    session.flush()
    return {"outcome": "escalated", "escalation_id": esc.id}


@jobs.handler(SLA_JOB)
def sla_check(session: Session, job: Job) -> dict[str, Any]:
    p = job.payload
    return check_sla(session, int(p["case_id"]), str(p["target"]), int(p.get("cycle", 0)), job_id=job.id)

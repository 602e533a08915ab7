"""Read-side queries for the service desk: case and contact lists, a case with its history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from pxm.platform.http.pagination import PageParams, paginate
from pxm.practices.resolution.models import Case, CaseEvent, Contact


def case_query(*, status: list[str] | None = None, reason: str | None = None, priority: str | None = None,
               assigned_staff_id: int | None = None, patient_id: int | None = None, team: str | None = None,
               breached: bool | None = None, open_only: bool = False, unassigned: bool = False) -> Select[Any]:
    stmt = select(Case)
    if unassigned:
        stmt = stmt.where(Case.assigned_staff_id.is_(None))
    if status:
        stmt = stmt.where(Case.status.in_(status))
    if open_only:
        stmt = stmt.where(Case.status.in_(["new", "assigned", "in_progress", "waiting_on_patient"]))
    if reason:
        stmt = stmt.where(Case.reason == reason)
    if priority:
        stmt = stmt.where(Case.priority == priority)
    if assigned_staff_id is not None:
        stmt = stmt.where(Case.assigned_staff_id == assigned_staff_id)
    if patient_id is not None:
        stmt = stmt.where(Case.patient_id == patient_id)
    if team:
        stmt = stmt.where(Case.team == team)
    if breached is not None:
        flag = or_(Case.first_response_breached.is_(True), Case.resolution_breached.is_(True))
        stmt = stmt.where(flag if breached else ~flag)
    return stmt


_PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


CASE_ORDERS = ("opened", "due")  # newest opened first; soonest resolution due first (the most overdue at the top)


def ordered_cases(stmt: Select[Any], order: str = "opened") -> Select[Any]:
    """``stmt`` (a ``case_query``) in one of ``CASE_ORDERS``."""
    if order == "due":
        return stmt.order_by(Case.resolution_due_at.is_(None), Case.resolution_due_at, Case.id)
    return stmt.order_by(Case.opened_at.desc(), Case.id.desc())


def list_cases(session: Session, params: PageParams, *, order: str = "opened", **filters: Any
               ) -> tuple[list[Case], int]:
    return paginate(session, ordered_cases(case_query(**filters), order), params)


def queue_for(session: Session, staff_id: int, limit: int = 200) -> list[Case]:
    """An agent's open cases, most urgent first, then the earliest resolution due time."""
    rows = session.execute(case_query(assigned_staff_id=staff_id, open_only=True).limit(limit)).scalars().all()
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda c: (_PRIORITY_RANK.get(c.priority, 9), c.resolution_due_at or far, c.id))


def list_contacts(session: Session, params: PageParams, *, patient_id: int | None = None,
                  case_id: int | None = None, agent_id: int | None = None, start: dt.datetime | None = None,
                  end: dt.datetime | None = None) -> tuple[list[Contact], int]:
    stmt = select(Contact)
    if patient_id is not None:
        stmt = stmt.where(Contact.patient_id == patient_id)
    if case_id is not None:
        stmt = stmt.where(Contact.case_id == case_id)
    if agent_id is not None:
        stmt = stmt.where(Contact.agent_id == agent_id)
    if start is not None:
        stmt = stmt.where(Contact.started_at >= start)
    if end is not None:
        stmt = stmt.where(Contact.started_at < end)
    return paginate(session, stmt.order_by(Contact.started_at.desc(), Contact.id.desc()), params)


def case_history(session: Session, case_id: int) -> tuple[list[CaseEvent], list[Contact]]:
    events = session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id)
                             .order_by(CaseEvent.at, CaseEvent.id)).scalars().all()
    contacts = session.execute(select(Contact).where(Contact.case_id == case_id)
                               .order_by(Contact.started_at, Contact.id)).scalars().all()
    return list(events), list(contacts)


def agent_day(session: Session, staff_id: int, since: dt.datetime) -> dict[str, Any]:
    """An agent's contacts since ``since`` (the start of their day): how many, the average handling time of
    those ended (answer or start to end, as AHT is counted) and how many resolved their case there and then."""
    rows = session.execute(select(Contact.started_at, Contact.answered_at, Contact.ended_at, Contact.resolved)
                           .where(Contact.agent_id == staff_id, Contact.started_at >= since,
                                  Contact.abandoned.is_(False))).all()
    handled = [(r.ended_at - (r.answered_at or r.started_at)).total_seconds() for r in rows if r.ended_at]
    return {"contacts": len(rows), "aht_seconds": sum(handled) / len(handled) if handled else None,
            "resolved": sum(1 for r in rows if r.resolved)}


def contact_count(session: Session, case_id: int) -> int:
    return int(session.execute(select(func.count()).where(Contact.case_id == case_id)).scalar_one())


def contacts_by_ids(session: Session, ids: list[int]) -> dict[int, Contact]:
    if not ids:
        return {}
    return {c.id: c for c in session.execute(select(Contact).where(Contact.id.in_(ids))).scalars()}

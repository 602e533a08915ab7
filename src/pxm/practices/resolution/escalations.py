"""SLA escalations as the supervisors they name see them: the breaches waiting for a look, and acknowledging one.

The SLA job (``tasks.check_sla``) writes an ``escalations`` row when a case misses a target: the priority goes up
a step and the team's supervisor is named. Acknowledging says a supervisor has seen it and acted (reassigned,
called the patient, coached the agent): the row's ``acknowledged_at`` is set, and an ``acknowledge`` event in the
case's history (with the supervisor's note) and its audit event say who and why.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.permissions import Permission
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import Conflict
from pxm.platform.http.lookup import get_or_404
from pxm.platform.http.pagination import PageParams, count_rows
from pxm.practices.resolution.models import Case, Escalation
from pxm.practices.resolution.service import _record

STATES: dict[str, bool | None] = {"open": False, "acknowledged": True, "all": None}  # as ``acknowledged``
STATE_PATTERN = "^(" + "|".join(STATES) + ")$"  # a ``state`` query parameter


def escalation_query(*, acknowledged: bool | None = False,
                     supervisor_staff_id: int | None = None) -> Select[Escalation, Case]:
    """Escalations with their cases, newest first: waiting for acknowledgement (``acknowledged=False``), done
    (True) or both (None), for one supervisor or everyone's."""
    stmt = select(Escalation, Case).join(Case, Case.id == Escalation.case_id)
    if acknowledged is not None:
        stmt = stmt.where(Escalation.acknowledged_at.is_not(None) if acknowledged
                          else Escalation.acknowledged_at.is_(None))
    if supervisor_staff_id is not None:
        stmt = stmt.where(Escalation.supervisor_staff_id == supervisor_staff_id)
    return stmt.order_by(Escalation.escalated_at.desc(), Escalation.id.desc())


def list_escalations(session: Session, params: PageParams, **filters: Any) -> tuple[list[tuple[Escalation, Case]], int]:
    stmt = escalation_query(**filters)
    total = count_rows(session, stmt)
    rows = session.execute(stmt.limit(params.limit).offset(params.offset)).tuples().all()
    return [(e, c) for e, c in rows], total


def waiting_for_case(session: Session, case_id: int) -> list[Escalation]:
    """The case's escalations no supervisor has acknowledged yet, oldest first."""
    return list(session.execute(select(Escalation).where(Escalation.case_id == case_id,
                                                         Escalation.acknowledged_at.is_(None))
                                .order_by(Escalation.escalated_at, Escalation.id)).scalars())


def named_supervisors(session: Session) -> list[int]:
    """The staff ids escalations have named, for the page's choice of supervisor."""
    return [int(i) for (i,) in session.execute(select(Escalation.supervisor_staff_id).distinct())
            if i is not None]


def acknowledge(session: Session, actor: Actor, escalation_id: int, *, note: str | None = None) -> Escalation:
    """A supervisor has seen the breach and acted on it (needs cases:assign)."""
    actor.ensure(Permission.cases_assign, "acknowledge escalations")
    esc = get_or_404(session, Escalation, escalation_id, "escalation")
    if esc.acknowledged_at is not None:
        raise Conflict(f"escalation {escalation_id} was acknowledged already, at {esc.acknowledged_at:%Y-%m-%d %H:%M} UTC")
    esc.acknowledged_at = utcnow()
    case = session.get(Case, esc.case_id)
    assert case is not None  # a foreign key
    text = note.strip()[:500] if note and note.strip() else None
    _record(session, actor, case, "acknowledge", at=esc.acknowledged_at, note=text,
            details={"escalation_id": esc.id, "target": esc.target})
    return esc

"""Loop-closure metrics and the open recovery queue.

**Loop-closure rate** = recovery cases resolved or closed / recovery cases opened, over the cases opened in
the window. **Time to close** = from the case opening to its resolution (or closing when it was closed
without a resolution), in hours; the median and the 90th percentile are reported. Both overall, by trigger
(the first trigger that opened the case) and by department.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.db.base import utcnow
from pxm.platform.people.models import OrgUnit
from pxm.practices.feedback.loop.models import RecoveryLink
from pxm.practices.resolution.models import DONE_STATUSES, OPEN_STATUSES, Case


@dataclass(frozen=True)
class LoopStats:
    opened: int
    closed: int
    closure_rate: float | None
    median_hours_to_close: float | None
    p90_hours_to_close: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"opened": self.opened, "closed": self.closed, "closure_rate": self.closure_rate,
                "median_hours_to_close": self.median_hours_to_close, "p90_hours_to_close": self.p90_hours_to_close}


def _closed_at(case: Case) -> dt.datetime | None:
    if case.status not in {s.value for s in DONE_STATUSES}:
        return None
    return case.resolved_at or case.closed_at


def _stats(rows: list[tuple[RecoveryLink, Case]]) -> LoopStats:
    hours = []
    for _link, case in rows:
        done = _closed_at(case)
        if done is not None:
            hours.append((done - case.opened_at).total_seconds() / 3600.0)
    opened = len(rows)
    p90 = None
    if hours:
        ordered = sorted(hours)
        p90 = round(ordered[math.ceil(0.9 * len(ordered)) - 1], 2)  # nearest rank
    return LoopStats(opened, len(hours), round(len(hours) / opened, 4) if opened else None,
                     round(statistics.median(hours), 2) if hours else None, p90)


def loop_metrics(session: Session, *, since: dt.datetime | None = None, until: dt.datetime | None = None
                 ) -> dict[str, Any]:
    """Closure rate and time to close over recovery cases opened in [since, until)."""
    q = select(RecoveryLink, Case).join(Case, Case.id == RecoveryLink.case_id)
    if since is not None:
        q = q.where(RecoveryLink.opened_at >= since)
    if until is not None:
        q = q.where(RecoveryLink.opened_at < until)
    rows = [(link, case) for link, case in session.execute(q).all()]
    by_trigger: dict[str, list[tuple[RecoveryLink, Case]]] = {}
    by_dept: dict[int | None, list[tuple[RecoveryLink, Case]]] = {}
    for link, case in rows:
        by_trigger.setdefault(link.trigger, []).append((link, case))
        by_dept.setdefault(link.department_id, []).append((link, case))
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_([d for d in by_dept if d is not None]))).tuples().all()) if by_dept else {}
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "overall": _stats(rows).to_dict(),
        "by_trigger": {t: _stats(r).to_dict() for t, r in sorted(by_trigger.items())},
        "by_department": [
            {"department_id": d, "department": names.get(d, "No department") if d is not None else "No department",
             **_stats(r).to_dict()}
            for d, r in sorted(by_dept.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ],
    }


def open_queue(session: Session, *, limit: int = 200, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Open recovery cases, oldest first, with their age and SLA state (no PHI)."""
    now = now or utcnow()
    q = (select(RecoveryLink, Case).join(Case, Case.id == RecoveryLink.case_id)
         .where(Case.status.in_([s.value for s in OPEN_STATUSES])).order_by(Case.opened_at).limit(limit))
    out = []
    for link, case in session.execute(q).all():
        due = case.resolution_due_at
        out.append({
            "case_id": case.id, "trigger": link.trigger, "triggers": list(link.triggers),
            "response_id": link.response_id, "complaint_id": link.complaint_id, "priority": case.priority,
            "status": case.status, "team": case.team, "assigned_staff_id": case.assigned_staff_id,
            "department_id": link.department_id, "opened_at": case.opened_at,
            "age_hours": round((now - case.opened_at).total_seconds() / 3600.0, 1),
            "resolution_due_at": due,
            "overdue": bool(due is not None and now > due) or case.resolution_breached,
            "hours_to_due": round((due - now).total_seconds() / 3600.0, 1) if due is not None else None,
        })
    return out

"""The overview: what the organization holds, in counts only (no PHI is read, so nothing to audit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.operations.live import service as live
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.config import Settings
from pxm.platform.db.base import utcnow
from pxm.platform.http.deps import DB, get_settings_dep
from pxm.platform.people.models import Encounter, OrgUnit, Patient, Staff
from pxm.web.pages import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["overview"])

WINDOW_DAYS = 30


def _grouped(session: Session, column: Any, *where: Any) -> dict[str, int]:
    stmt = select(column, func.count()).group_by(column).order_by(column)
    for clause in where:
        stmt = stmt.where(clause)
    return {str(key): int(n) for key, n in session.execute(stmt).all()}


def overview_counts(session: Session, now: dt.datetime | None = None) -> dict[str, Any]:
    """Aggregate counts only: patients, encounters (last 30 days by type), staff, org units."""
    now = now or utcnow()
    since = now - dt.timedelta(days=WINDOW_DAYS)
    recent = _grouped(session, Encounter.type, Encounter.admit_at >= since)
    units = _grouped(session, OrgUnit.kind)
    return {
        "as_of": now.isoformat(timespec="seconds"),
        "patients": int(session.execute(select(func.count()).select_from(Patient)).scalar_one()),
        "encounters": {
            "total": int(session.execute(select(func.count()).select_from(Encounter)).scalar_one()),
            "window_days": WINDOW_DAYS,
            "last_window": sum(recent.values()),
            "last_window_by_type": recent,
        },
        "staff": {
            "active": int(session.execute(select(func.count()).select_from(Staff)
                                          .where(Staff.active.is_(True))).scalar_one()),
            "by_job_role": _grouped(session, Staff.job_role, Staff.active.is_(True)),
            "by_status": _grouped(session, Staff.status, Staff.active.is_(True)),
        },
        "org_units": {
            "facilities": units.get("facility", 0),
            "departments": units.get("department", 0),
            "by_kind": units,
        },
    }


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, db: Session = DB, settings: Settings = Depends(get_settings_dep),
                  actor: Actor = Depends(require(Permission.org_read))) -> HTMLResponse:
    # the service desk's headline for whoever may watch it: the live page's figures (aggregates only)
    desk = live.snapshot(db, timezone=settings.timezone) if actor.can(Permission.live_read) else None
    return render(request, "overview.html", {"page_title": "Overview", "o": overview_counts(db), "desk": desk})


@api.get("/overview", summary="Counts of patients, encounters (last 30 days by type), staff and org units")
def overview_api(db: Session = DB,
                 actor: Actor = Depends(require(Permission.org_read))) -> dict[str, Any]:
    return overview_counts(db)

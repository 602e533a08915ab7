"""The routing page: the waiting queue, recent decisions with their reasons, agents, reassignment, settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.operations.routing import service
from pxm.operations.routing.models import RoutingDecision
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.db.base import utcnow
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.platform.people.models import Staff
from pxm.web.pages import flash, render

router = APIRouter(include_in_schema=False)
PAGE = "/operations/routing"


def _context(db: Session) -> dict[str, Any]:
    now = utcnow()
    queue = service.queued_cases(db, 100)
    last: dict[int, RoutingDecision] = {}
    if queue:
        for row in db.execute(select(RoutingDecision).where(RoutingDecision.case_id.in_([c.id for c in queue]))
                              .order_by(RoutingDecision.id)).scalars():
            last[row.case_id] = row
    names = dict(db.execute(select(Staff.id, Staff.display_name)).all())
    # the desk's staff: who routing may give cases to (capacity above 0), and anyone else still holding open
    # cases (a case reassigned to a nurse, say); not the rest of the organization's staff
    agents = sorted((a for a in service.load_agents(db, available_only=False) if a.capacity > 0 or a.load > 0),
                    key=lambda a: ({"available": 0, "busy": 1, "away": 2, "offline": 3}.get(a.status, 4), a.name))
    return {
        "queue": [{"case": c, "wait_min": int((now - c.opened_at).total_seconds() // 60),
                   "note": last[c.id].explanation if c.id in last else ""} for c in queue],
        "decisions": service.recent_decisions(db, 30),
        "agents": agents,
        "deactivated_holders": service.deactivated_holders(db),
        "names": names,
        "settings": service.get_routing_settings(db),
    }


@router.get(PAGE, response_class=HTMLResponse)
def routing_page(request: Request, db: Session = DB,
                 actor: Actor = Depends(require(Permission.cases_read))) -> HTMLResponse:
    ctx = _context(db)
    ctx.update(page_title="Routing", can_assign=actor.can(Permission.cases_assign))
    return render(request, "routing/index.html", ctx)


@router.post(f"{PAGE}/reassign", response_class=HTMLResponse)
def reassign_form(request: Request, case_id: str = Form(""), staff_id: str = Form(""), note: str = Form(""),
                  db: Session = DB, actor: Actor = Depends(require(Permission.cases_assign))) -> Any:
    if not case_id.strip().isdigit() or not staff_id.strip().isdigit():
        return _error(request, db, actor, "case number and agent: enter the case number and pick an agent")
    try:
        row = service.reassign(db, actor, int(case_id), int(staff_id), note=note or None)
    except APIError as exc:
        db.rollback()
        return _error(request, db, actor, exc.message)
    response = RedirectResponse(PAGE, status_code=303)
    flash(request, response, f"Case {row.case_id}: {row.explanation}.", "success")
    return response


@router.post(f"{PAGE}/hand-back", response_class=HTMLResponse)
def hand_back_form(request: Request, staff_id: str = Form(""), note: str = Form(""), db: Session = DB,
                   actor: Actor = Depends(require(Permission.cases_assign))) -> Any:
    if not staff_id.strip().isdigit():
        return _error(request, db, actor, "agent: pick the agent whose cases to hand back")
    try:
        done = service.hand_back(db, actor, int(staff_id), note=note or None)
    except APIError as exc:
        db.rollback()
        return _error(request, db, actor, exc.message)
    response = RedirectResponse(PAGE, status_code=303)
    if done["cases"] == 0:
        flash(request, response, f"{done['agent']} has no open cases to hand back.", "info")
    else:
        flash(request, response, f"{done['agent']}'s {done['cases']} open case{'s' if done['cases'] != 1 else ''} "
                                 f"handed back: {done['reassigned']} to other agents, {done['queued']} waiting in the "
                                 "queue.", "success")
    return response


@router.post(f"{PAGE}/settings", response_class=HTMLResponse)
def settings_form(request: Request, step1_after_seconds: str = Form(""), step2_after_seconds: str = Form(""),
                  db: Session = DB, actor: Actor = Depends(require(Permission.cases_assign))) -> Any:
    try:
        s1, s2 = int(step1_after_seconds), int(step2_after_seconds)
    except ValueError:
        return _error(request, db, actor, "wait before widening: enter whole numbers of seconds")
    try:
        service.update_routing_settings(db, actor, step1_after_seconds=s1, step2_after_seconds=s2)
    except APIError as exc:
        db.rollback()
        return _error(request, db, actor, exc.message)
    response = RedirectResponse(PAGE, status_code=303)
    flash(request, response, f"Cases now widen after {s1} s (step 1) and {s2} s (step 2).", "success")
    return response


def _error(request: Request, db: Session, actor: Actor, message: str) -> HTMLResponse:
    ctx = _context(db)
    ctx.update(page_title="Routing", can_assign=True, error=message)
    return render(request, "routing/index.html", ctx, status=422)

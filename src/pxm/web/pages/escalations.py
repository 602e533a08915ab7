"""The supervisors' escalations page: SLA breaches waiting for a look (theirs first), and acknowledging one."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require, verify_csrf
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.platform.http.pagination import PageParams
from pxm.platform.people import service as people
from pxm.platform.people.models import Staff
from pxm.practices.resolution import escalations
from pxm.web.pages import flash, render

PAGE = "/practices/resolution/escalations"
CASE_PAGES = "/practices/resolution/cases/"
PAGE_SIZE = 50
router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


@router.get(PAGE, response_class=HTMLResponse)
def escalations_page(request: Request, state: str = Query("open", pattern=escalations.STATE_PATTERN),
                     supervisor: str = Query("", max_length=12), offset: int = Query(0, ge=0), db: Session = DB,
                     actor: Actor = Depends(require(Permission.cases_read))) -> HTMLResponse:
    """Newest first. ``supervisor``: a staff id, or "" for everyone's; a supervisor opening the page without
    choosing sees their own."""
    me = people.staff_of(db, actor)
    staff = {int(i): n for i, n in db.execute(select(Staff.id, Staff.display_name))}
    if "supervisor" not in request.query_params and me is not None and me.job_role == "supervisor":
        supervisor = str(me.id)
    error = None
    if supervisor and not (supervisor.isdigit() and int(supervisor) in staff):
        error, supervisor = f"Unknown supervisor {supervisor!r}: pick one from the list.", ""
    params = PageParams(limit=PAGE_SIZE, offset=offset)
    rows, total = escalations.list_escalations(db, params, acknowledged=escalations.STATES[state],
                                               supervisor_staff_id=int(supervisor) if supervisor else None)
    # the supervisors escalations have named, and the one chosen (a supervisor with none yet sees themselves)
    chosen = {int(supervisor)} if supervisor else set()
    named = sorted(set(escalations.named_supervisors(db)) | chosen, key=lambda i: staff.get(i, ""))
    return render(request, "resolution/escalations.html", {
        "page_title": "Escalations", "rows": rows, "total": total, "params": params, "state": state,
        "supervisor": supervisor, "supervisors": [(i, staff.get(i, f"staff #{i}")) for i in named], "staff": staff,
        "error": error, "query": urlencode({"state": state, "supervisor": supervisor}),
        "can_ack": actor.can(Permission.cases_assign)}, status=422 if error else 200)


@router.post(PAGE + "/{escalation_id}/acknowledge")
def acknowledge_form(escalation_id: int, request: Request, note: str = Form(""), back: str = Form(""),
                     db: Session = DB, actor: Actor = Depends(require(Permission.cases_assign))) -> Response:
    # back to the list as it was filtered, or to the case page it was sent from (only those are followed)
    target = back if back.startswith((PAGE, CASE_PAGES)) and "//" not in back else PAGE
    response = RedirectResponse(target, status_code=303)
    try:
        with db.begin_nested():
            esc = escalations.acknowledge(db, actor, escalation_id, note=note)
    except APIError as exc:
        flash(request, response, exc.message, "error")
        return response
    flash(request, response, f"Escalation of case {esc.case_id} acknowledged.", "success")
    return response

"""Agent workspace and the Resolution/FCR dashboard.

- ``/practices/resolution``: my queue (cases assigned to the signed-in agent) and the unassigned/breached lists.
- ``/practices/resolution/cases/{id}``: the case with the patient's context (PHI reads audited), its contacts
  and events, and forms to log a contact, add a note, move or resolve the case.
- ``/practices/resolution/fcr``: FCR by agent/team/reason/channel/day; each row drills down to
  ``/practices/resolution/fcr/repeats``, the cases counted not-FCR because of a repeat contact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.operations.live.service import day_start
from pxm.operations.routing import service as routing
from pxm.platform.audit import service as audit
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require, verify_csrf
from pxm.platform.auth.permissions import Permission
from pxm.platform.config import Settings
from pxm.platform.db.base import utcnow
from pxm.platform.http.csv_download import csv_download
from pxm.platform.http.deps import DB, get_settings_dep
from pxm.platform.http.errors import APIError
from pxm.platform.http.pagination import PageParams, count_rows
from pxm.platform.people import service as people
from pxm.platform.people.models import Staff, StaffStatus
from pxm.practices.resolution import escalations, exports, fcr, metrics, queries, service
from pxm.practices.resolution.models import CaseStatus, Channel, Direction, Priority
from pxm.web.pages import display_zone, flash, render

router = APIRouter(prefix="/practices/resolution", include_in_schema=False, dependencies=[Depends(verify_csrf)])
CASES_READ = require(Permission.cases_read)
CASES_WRITE = require(Permission.cases_write)
CONTACTS_WRITE = require(Permission.contacts_write)
METRICS_READ = require(Permission.metrics_read)


def _staff_names(db: Session) -> dict[int, str]:
    return {int(i): n for i, n in db.execute(select(Staff.id, Staff.display_name))}


def _agent_names(db: Session, by: str | None) -> dict[str, str]:
    """By agent, FCR groups are keyed by username (as in the JSON and the CLI); the pages show the person's name."""
    return dict(db.execute(select(Staff.username, Staff.display_name)).tuples().all()) if by == "agent" else {}


@router.get("", response_class=HTMLResponse)
def workspace(request: Request, db: Session = DB, actor: Actor = Depends(CASES_READ)) -> HTMLResponse:
    me = people.staff_of(db, actor)
    mine = queries.queue_for(db, me.id) if me is not None else []
    unassigned, _ = queries.list_cases(db, PageParams(limit=25, offset=0), unassigned=True, open_only=True)
    breached, _ = queries.list_cases(db, PageParams(limit=25, offset=0), breached=True, open_only=True)
    can_take = actor.can(Permission.contacts_write) and actor.can(Permission.patients_read)
    zone = request.app.state.settings.timezone
    today = queries.agent_day(db, me.id, day_start(utcnow(), zone)) if me is not None else None
    return render(request, "resolution/workspace.html", {"today": today,
        "page_title": "Service desk", "me": me, "mine": mine, "unassigned": unassigned, "breached": breached,
        "staff": _staff_names(db), "now": utcnow(), "can_metrics": actor.can(Permission.metrics_read),
        "can_take": can_take, "can_write": actor.can(Permission.cases_write),
        "staff_statuses": [st.value for st in StaffStatus],
        **(_contact_choices(db) if can_take else {})})


@router.post("/status")
def post_status(request: Request, status: str = Form(""), db: Session = DB,
                actor: Actor = Depends(CASES_READ)) -> Response:
    """The signed-in agent sets their own availability (routing gives new cases only to available agents)."""
    back = RedirectResponse("/practices/resolution", status_code=303)
    me = people.staff_of(db, actor)
    if me is None:
        flash(request, back, "Your sign-in is not linked to a staff profile, so it has no status to set.", "error")
        return back
    try:
        with db.begin_nested():
            people.set_staff_status(db, actor, me.id, status)
    except APIError as exc:
        flash(request, back, exc.message, "error")
        return back
    flash(request, back, f"Your status is now {status}.", "success")
    return back


def _contact_choices(db: Session) -> dict[str, Any]:
    """The choices of a contact form: channels, directions, reasons, resolution codes."""
    return {"channels": [c.value for c in Channel], "directions": [d.value for d in Direction],
            "reasons": service.reason_codes(db), "resolution_codes": service.RESOLUTION_CODES}


CASES_PAGE_SIZE = 50
CASES_CSV_LIMIT = 100_000  # a download beyond this is a data extract, not a list: narrow the filter
_BREACHED = {"": None, "yes": True, "no": False}


@dataclass
class _CaseFilter:
    """The Cases page's filter, as the form sent it: what it selects, or what is wrong with it."""

    form: dict[str, str]
    errors: list[str]
    where: dict[str, Any]

    @property
    def query(self) -> str:
        return urlencode({k: v for k, v in self.form.items() if v})


def _case_filter(db: Session, staff: dict[int, str], status: str, reason: str, priority: str, agent: str, team: str,
                 breached: str, order: str) -> _CaseFilter:
    statuses = [s.value for s in CaseStatus]
    errors: list[str] = []
    for value, allowed, what in ((status, ["open", "all", *statuses], "status"),
                                 (reason, ["", *service.reason_codes(db)], "reason"),
                                 (priority, ["", *(p.value for p in Priority)], "priority"),
                                 (breached, list(_BREACHED), "breached"), (order, queries.CASE_ORDERS, "order")):
        if value not in allowed:
            errors.append(f"Unknown {what} {value!r}: pick one from the list.")
    if agent not in ("", "none") and not (agent.isdigit() and int(agent) in staff):
        errors.append(f"Unknown agent {agent!r}: pick one from the list.")
    form = {"status": status, "reason": reason, "priority": priority, "agent": agent, "team": team.strip(),
            "breached": breached, "order": order}
    where = {} if errors else {
        "status": [status] if status in statuses else None, "open_only": status == "open", "reason": reason or None,
        "priority": priority or None, "team": form["team"] or None,
        "assigned_staff_id": int(agent) if agent.isdigit() else None, "unassigned": agent == "none",
        "breached": _BREACHED[breached]}
    return _CaseFilter(form, errors, where)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, status: str = "open", reason: str = "", priority: str = "", agent: str = "",
               team: str = "", breached: str = "", order: str = "opened", offset: int = Query(0, ge=0), db: Session = DB,
               actor: Actor = Depends(CASES_READ)) -> HTMLResponse:
    """Every case, filtered (status or open/all, reason, priority, agent or unassigned, team, SLA breached) and
    paged, newest opened first or soonest due first: the supervisor's list beyond the workspace's newest 25."""
    staff = _staff_names(db)
    chosen = _case_filter(db, staff, status, reason, priority, agent, team, breached, order)
    params = PageParams(limit=CASES_PAGE_SIZE, offset=offset)
    rows: list[Any] = []
    total = 0
    if not chosen.errors:
        rows, total = queries.list_cases(db, params, order=order, **chosen.where)
    return render(request, "resolution/cases.html", {
        "page_title": "Cases", "cases": rows, "total": total, "params": params, "form": chosen.form,
        "errors": chosen.errors, "query": chosen.query, "statuses": [s.value for s in CaseStatus],
        "reasons": service.reason_codes(db), "priorities": [p.value for p in Priority], "staff": staff,
        "agents": sorted(staff.items(), key=lambda item: item[1])}, status=422 if chosen.errors else 200)


@router.get("/cases.csv")
def cases_csv(request: Request, status: str = "open", reason: str = "", priority: str = "", agent: str = "",
              team: str = "", breached: str = "", order: str = "opened", db: Session = DB,
              settings: Settings = Depends(get_settings_dep), actor: Actor = Depends(CASES_READ)) -> Response:
    """Every case the Cases page's filter selects (all pages), as a CSV download; the export is audited."""
    staff = _staff_names(db)
    chosen = _case_filter(db, staff, status, reason, priority, agent, team, breached, order)
    if chosen.errors:
        raise APIError(422, "invalid_filter", " ".join(chosen.errors))
    stmt = queries.ordered_cases(queries.case_query(**chosen.where), order)
    total = count_rows(db, stmt)
    if total > CASES_CSV_LIMIT:
        raise APIError(422, "too_many_rows", f"{total} cases match; a download holds at most {CASES_CSV_LIMIT}. "
                                             "Narrow the filter (a status, a reason, an agent or a team).")
    rows = list(exports.case_rows(db, stmt, staff, display_zone(settings.timezone)))
    audit.record(db, actor, "cases.export", "case", None, details={"filter": chosen.form, "rows": len(rows)})
    return csv_download(f"cases-{utcnow():%Y%m%d-%H%M}.csv", exports.CASE_HEADER, rows)


def _feedback_for(db: Session, actor: Actor, patient_id: int) -> list[dict[str, Any]] | None:
    # The feedback practice may offer ``recent_feedback_for_patient(session, actor, patient_id)``; the case page
    # shows it when present (imported lazily: feedback is optional for the service desk).
    try:
        from pxm.practices.feedback import service as feedback
    except ImportError:
        return None
    fn: Callable[..., list[dict[str, Any]]] | None = getattr(feedback, "recent_feedback_for_patient", None)
    return None if fn is None else fn(db, actor, patient_id)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: int, request: Request, db: Session = DB,
              actor: Actor = Depends(CASES_READ)) -> HTMLResponse:
    case = service.get_case(db, case_id)
    events, contacts = queries.case_history(db, case.id)
    patient = encounters = feedback = None
    if actor.can(Permission.patients_read):
        # Both reads decrypt PHI (name, MRN, visit dates): the people service audits each one.
        patient = people.get_patient(db, actor, case.patient_id, purpose=f"case {case.id}")
        encounters, _ = people.list_encounters(db, actor, case.patient_id, PageParams(limit=5, offset=0))
        feedback = _feedback_for(db, actor, case.patient_id)
    previous_cases, _ = queries.list_cases(db, PageParams(limit=20, offset=0), patient_id=case.patient_id)
    previous_contacts, _ = queries.list_contacts(db, PageParams(limit=20, offset=0), patient_id=case.patient_id)
    me = people.staff_of(db, actor)
    return render(request, "resolution/case.html", {
        "page_title": f"Case {case.id}", "case": case, "events": events, "contacts": contacts, "patient": patient,
        "encounters": encounters, "feedback": feedback,
        "previous_cases": [c for c in previous_cases if c.id != case.id],
        "previous_contacts": [c for c in previous_contacts if c.case_id != case.id],
        "staff": _staff_names(db), "me": me, "statuses": service.next_statuses(case.status), **_contact_choices(db),
        "escalations": escalations.waiting_for_case(db, case.id), "can_ack": actor.can(Permission.cases_assign),
        "can_write": actor.can(Permission.cases_write), "can_log": actor.can(Permission.contacts_write)})


def _after(request: Request, db: Session, case_id: int, action: Callable[[], Any], done: str) -> Response:
    """Run a form action in a savepoint; on refusal nothing is kept and the message is flashed."""
    response = RedirectResponse(f"/practices/resolution/cases/{case_id}", status_code=303)
    try:
        with db.begin_nested():
            action()
    except APIError as exc:
        flash(request, response, exc.message, "error")
        return response
    flash(request, response, done, "success")
    return response


@router.post("/cases/{case_id}/take")
def post_take(case_id: int, request: Request, db: Session = DB, actor: Actor = Depends(CASES_WRITE)) -> Response:
    def take() -> None:
        me = people.staff_of(db, actor)
        if me is None:
            raise APIError(409, "no_staff_profile", "Your sign-in is not linked to a staff profile, so cases cannot "
                                                    "be yours: ask an administrator to link it.")
        routing.take(db, actor, case_id, me)

    return _after(request, db, case_id, take, "The case is yours.")


@router.post("/cases/{case_id}/notes")
def post_note(case_id: int, request: Request, text: str = Form(""), db: Session = DB,
              actor: Actor = Depends(CASES_WRITE)) -> Response:
    return _after(request, db, case_id, lambda: service.add_note(db, actor, case_id, text), "Note added.")


@router.post("/cases/{case_id}/transition")
def post_transition(case_id: int, request: Request, to_status: str = Form(""), note: str = Form(""),
                    resolution_code: str = Form(""), db: Session = DB,
                    actor: Actor = Depends(CASES_WRITE)) -> Response:
    return _after(request, db, case_id, lambda: service.transition(
        db, actor, case_id, to_status, note=note.strip() or None, resolution_code=resolution_code or None),
        f"Case moved to {to_status.replace('_', ' ')}.")


@router.post("/cases/{case_id}/contacts")
def post_contact(case_id: int, request: Request, channel: str = Form(""), direction: str = Form("inbound"),
                 minutes: int = Form(5, ge=0, le=600), resolved: bool = Form(False),
                 resolution_code: str = Form(""), note: str = Form(""), db: Session = DB,
                 actor: Actor = Depends(CONTACTS_WRITE)) -> Response:
    def log() -> None:
        case = service.get_case(db, case_id)
        me = people.staff_of(db, actor)
        end = utcnow()
        service.log_contact(db, actor, patient_id=case.patient_id, channel=channel, direction=direction,
                            reason=case.reason, started_at=end - dt.timedelta(minutes=minutes), ended_at=end,
                            agent_id=me.id if me else None, case_id=case.id, resolved=resolved,
                            resolution_code=resolution_code or None, note=note.strip() or None)

    return _after(request, db, case_id, log, "Contact logged.")


@router.post("/contacts")
def post_new_contact(request: Request, mrn: str = Form(""), reason: str = Form(""), channel: str = Form(""),
                     direction: str = Form("inbound"), minutes: int = Form(5, ge=0, le=600),
                     resolved: bool = Form(False), resolution_code: str = Form(""), note: str = Form(""),
                     db: Session = DB, actor: Actor = Depends(CONTACTS_WRITE)) -> Response:
    """Take a contact from a patient found by MRN (the workspace's form): it joins the patient's open case for
    the reason, reopens a recent one or opens a case, which is the signed-in agent's (``log_contact``). The MRN
    comes in the form's body, never in a URL or a message, and the lookup is audited, found or not."""
    back = RedirectResponse("/practices/resolution#take-h", status_code=303)
    problem = None
    if not actor.can(Permission.patients_read):
        problem = "Finding a patient by MRN needs permission to read patient records."
    elif not mrn.strip():
        problem = "Enter the patient's MRN."
    patient = None if problem else people.find_patient_by_mrn(db, actor, mrn.strip())
    if patient is None:
        flash(request, back, problem or "No patient has the MRN you entered. Check it, or register the patient "
              "first.", "error")
        return back  # the lookup's audit event is kept (the session commits)
    me = people.staff_of(db, actor)
    end = utcnow()
    try:
        with db.begin_nested():
            contact = service.log_contact(
                db, actor, patient_id=patient.id, channel=channel, direction=direction, reason=reason,
                started_at=end - dt.timedelta(minutes=minutes), ended_at=end, agent_id=me.id if me else None,
                resolved=resolved, resolution_code=resolution_code or None, note=note.strip() or None)
    except APIError as exc:
        flash(request, back, exc.message, "error")
        return back
    first = queries.contact_count(db, contact.case_id) == 1
    response = RedirectResponse(f"/practices/resolution/cases/{contact.case_id}", status_code=303)
    flash(request, response, f"Contact logged: it {'opened' if first else 'went to'} case #{contact.case_id}.",
          "success")
    return response


def _dates(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None, str | None]:
    try:
        d0 = dt.date.fromisoformat(start) if start else None
        d1 = dt.date.fromisoformat(end) if end else None
    except ValueError:
        return None, None, "Dates must look like 2025-03-01."
    return d0, d1, None


@router.get("/fcr", response_class=HTMLResponse)
def fcr_dashboard(request: Request, by: str = Query("agent", pattern=fcr.BY_PATTERN),
                  start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                  window_days: int = Query(7, ge=1, le=365), db: Session = DB,
                  settings: Settings = Depends(get_settings_dep), actor: Actor = Depends(METRICS_READ)) -> HTMLResponse:
    d0, d1, error = _dates(start, end)
    report, ops = _fcr_reports(db, settings, by, d0, d1, window_days)
    return render(request, "resolution/fcr.html", {
        "page_title": "First contact resolution", "report": report, "ops": ops, "by": by, "groupings": fcr.GROUPINGS,
        "start": start or "", "end": end or "", "window_days": window_days, "error": error,
        "names": _agent_names(db, by),
        "csv_query": urlencode({"by": by, "from": start or "", "to": end or "", "window_days": window_days})})


def _fcr_reports(db: Session, settings: Settings, by: str, d0: dt.date | None, d1: dt.date | None,
                 window_days: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The FCR report and the contact-centre measures, grouped alike, as of now."""
    now = utcnow()
    return (fcr.fcr_report(db, window_days=window_days, as_of=now, start=d0, end=d1, by=by, tz=settings.timezone),
            metrics.contacts_report(db, as_of=now, start=d0, end=d1, by=by, window_days=window_days,
                                    tz=settings.timezone))


@router.get("/fcr.csv")
def fcr_csv(by: str = Query("agent", pattern=fcr.BY_PATTERN), start: str | None = Query(None, alias="from"),
            end: str | None = Query(None, alias="to"), window_days: int = Query(7, ge=1, le=365), db: Session = DB,
            settings: Settings = Depends(get_settings_dep), actor: Actor = Depends(METRICS_READ)) -> Response:
    """The FCR page's two tables as one CSV download: a row for everything, then one per group."""
    d0, d1, error = _dates(start, end)
    if error:
        raise APIError(422, "invalid_date", error)
    report, ops = _fcr_reports(db, settings, by, d0, d1, window_days)
    header, rows = exports.fcr_table(report, ops, _agent_names(db, by))
    return csv_download(f"fcr-by-{by}-{utcnow():%Y%m%d}.csv", header, rows)


@router.get("/fcr/repeats", response_class=HTMLResponse)
def fcr_repeats(request: Request, by: str | None = Query(None, pattern=fcr.BY_PATTERN),
                key: str | None = Query(None, max_length=120), start: str | None = Query(None, alias="from"),
                end: str | None = Query(None, alias="to"), window_days: int = Query(7, ge=1, le=365),
                db: Session = DB, settings: Settings = Depends(get_settings_dep),
                actor: Actor = Depends(METRICS_READ)) -> HTMLResponse:
    d0, d1, error = _dates(start, end)
    hits = fcr.repeat_cases(db, window_days=window_days, as_of=utcnow(), start=d0, end=d1, by=by, key=key,
                            tz=settings.timezone)
    shown = hits[:500]
    repeats = queries.contacts_by_ids(db, [i for o in shown for i in o.repeat_contact_ids])
    return render(request, "resolution/repeats.html", {
        "page_title": "Repeat contacts", "hits": shown, "total": len(hits), "repeats": repeats, "by": by,
        "key": key, "start": start or "", "end": end or "", "window_days": window_days, "error": error,
        "staff": _staff_names(db), "names": _agent_names(db, by)})

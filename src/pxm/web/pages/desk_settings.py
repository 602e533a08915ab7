"""Service desk settings page: SLA policies, business calendars and contact reasons.

``/practices/resolution/settings`` shows the three lists to anyone who reads cases; users with ``desk:configure``
also get the forms. Each form posts to its own URL; a refused change re-renders the page (422/409) with the
problems next to their fields and the values as typed, a saved one redirects back with a message. The rules
live in ``pxm.practices.resolution.settings``, shared with the JSON API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require, verify_csrf
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.platform.people.models import OrgUnit
from pxm.practices.resolution import settings
from pxm.practices.resolution.models import PRIORITY_ORDER, BusinessCalendar, SlaPolicy
from pxm.web.pages import flash, render

PAGE = "/practices/resolution/settings"
router = APIRouter(prefix=PAGE, include_in_schema=False, dependencies=[Depends(verify_csrf)])
READ = require(Permission.cases_read)
WRITE = require(Permission.desk_configure)
APPLIES = "It applies to cases opened from now on; due times already set are not recomputed."


async def form_data(request: Request) -> dict[str, str]:
    """The posted form's text fields (the calendar form has a field per weekday)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def minutes_text(minutes: int) -> str:
    """240 -> "4 h", 90 -> "1 h 30 min", 2880 -> "48 h"."""
    h, m = divmod(int(minutes), 60)
    return " ".join(p for p in (f"{h} h" if h else "", f"{m} min" if m or not h else "") if p)


def _errors(exc: APIError) -> dict[str, str]:
    out: dict[str, str] = {}
    details = exc.details if isinstance(exc.details, list) else []
    for item in details:
        if isinstance(item, dict) and item.get("field"):
            field = str(item["field"])
            out[field] = f"{out[field]} {item['problem']}" if field in out else str(item["problem"])
    if not out:
        out["form"] = exc.message
    return out


def _policy_form(policy: SlaPolicy | None) -> dict[str, Any]:
    if policy is None:
        return {"reason": "", "priority": "", "first_response_minutes": "", "resolution_minutes": "",
                "business_hours": True, "active": True}
    return {"reason": policy.reason or "", "priority": policy.priority or "",
            "first_response_minutes": policy.first_response_minutes, "resolution_minutes": policy.resolution_minutes,
            "business_hours": policy.business_hours, "active": policy.active}


def _calendar_form(cal: BusinessCalendar) -> dict[str, Any]:
    hours = cal.hours or {}
    days = {d: {"open": str(d) in hours, "opens": hours.get(str(d), ["", ""])[0],
                "closes": hours.get(str(d), ["", ""])[1]} for d in settings.WEEKDAYS}
    return {"name": cal.name, "timezone": cal.timezone, "days": days, "holidays": "\n".join(cal.holidays or [])}


def _page(request: Request, db: Session, actor: Actor, *, edit: int | None = None, status: int = 200,
          forms: dict[str, Any] | None = None, errors: dict[str, dict[str, str]] | None = None) -> HTMLResponse:
    policies = settings.list_policies(db)
    editing = next((p for p in policies if p.id == edit), None)
    calendars = settings.list_calendars(db)
    facility_ids = [c.facility_id for c in calendars if c.facility_id is not None]
    facilities = dict(db.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(facility_ids))).all()) \
        if facility_ids else {}
    reasons = settings.list_reasons(db)
    forms = forms or {}
    ctx: dict[str, Any] = {
        "page_title": "Service desk settings",
        "can_write": actor.can(Permission.desk_configure),
        "policies": policies, "editing": editing, "lookup_order": settings.LOOKUP_ORDER,
        "lookup_step": settings.lookup_step, "minutes_text": minutes_text,
        "policy_form": forms.get("policy", _policy_form(editing)),
        "reasons": reasons, "labels": {r.code: r.label for r in reasons},
        "active_reasons": [r for r in reasons if r.active], "usage": settings.reason_usage(db),
        "usage_text": settings.usage_text,
        "protected": settings.PROTECTED_REASONS,
        "priorities": [p.value for p in PRIORITY_ORDER],
        "calendars": calendars, "facilities": facilities, "weekdays": settings.WEEKDAYS,
        "calendar_forms": {c.id: forms.get(f"calendar:{c.id}", _calendar_form(c)) for c in calendars},
        "reason_form": forms.get("reason", {"code": "", "label": ""}),
        "reason_labels": {r.code: forms.get(f"reason:{r.code}", {}).get("label", r.label) for r in reasons},
        "timezones": sorted(settings.timezones()) if actor.can(Permission.desk_configure) else [],
        "errors": errors or {}, "max_minutes": settings.MAX_MINUTES,
    }
    return render(request, "resolution/settings.html", ctx, status=status)


def _attempt(request: Request, db: Session, actor: Actor, action: Callable[[], Any], done: Callable[[Any], str],
             *, anchor: str, form_key: str, form: dict[str, Any], edit: int | None = None) -> Response:
    """Run a change in a savepoint; refused, re-render with the problems next to the fields (nothing kept).
    Saved, redirect back with ``done(result)`` as the message."""
    try:
        with db.begin_nested():
            result = action()
    except APIError as exc:
        return _page(request, db, actor, edit=edit, status=exc.status, forms={form_key: form},
                     errors={form_key: _errors(exc)})
    response = RedirectResponse(f"{PAGE}#{anchor}", status_code=303)
    flash(request, response, done(result), "success")
    return response


@router.get("", response_class=HTMLResponse)
def settings_page(request: Request, edit: int | None = Query(None, ge=1), db: Session = DB,
                  actor: Actor = Depends(READ)) -> HTMLResponse:
    return _page(request, db, actor, edit=edit)


def _policy_input(form: dict[str, str], *, editing: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the form shows again, what the service gets) from the posted policy form."""
    shown = {"reason": form.get("reason", ""), "priority": form.get("priority", ""),
             "first_response_minutes": form.get("first_response_minutes", ""),
             "resolution_minutes": form.get("resolution_minutes", ""),
             "business_hours": "business_hours" in form, "active": "active" in form or not editing}
    values = {**shown, "reason": shown["reason"] or None, "priority": shown["priority"] or None}
    if not editing:
        values.pop("active")
    return shown, values


def _policy_done(policy: SlaPolicy) -> str:
    clock = "business hours" if policy.business_hours else "around the clock"
    state = "" if policy.active else " It is inactive: cases no longer use it."
    return (f"SLA policy saved: reason {policy.reason or 'any'}, priority {policy.priority or 'any'}: first "
            f"response {minutes_text(policy.first_response_minutes)}, resolution "
            f"{minutes_text(policy.resolution_minutes)} ({clock}).{state} {APPLIES}")


@router.post("/policies", response_class=HTMLResponse)
def create_policy(request: Request, form: dict[str, str] = Depends(form_data), db: Session = DB,
                  actor: Actor = Depends(WRITE)) -> Response:
    shown, values = _policy_input(form, editing=False)
    return _attempt(request, db, actor, lambda: settings.create_policy(db, actor, **values), _policy_done,
                    anchor="policies-h", form_key="policy", form=shown)


@router.post("/policies/{policy_id}", response_class=HTMLResponse)
def update_policy(policy_id: int, request: Request, form: dict[str, str] = Depends(form_data),
                  db: Session = DB, actor: Actor = Depends(WRITE)) -> Response:
    shown, values = _policy_input(form, editing=True)
    return _attempt(request, db, actor, lambda: settings.update_policy(db, actor, policy_id, **values),
                    _policy_done, anchor="policies-h", form_key="policy", form=shown, edit=policy_id)


def _calendar_input(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    days = {d: {"open": f"open_{d}" in form, "opens": form.get(f"opens_{d}", "").strip(),
                "closes": form.get(f"closes_{d}", "").strip()} for d in settings.WEEKDAYS}
    holidays_text = form.get("holidays", "")
    shown = {"name": form.get("name", ""), "timezone": form.get("timezone", ""), "days": days,
             "holidays": holidays_text}
    values = {"name": shown["name"], "timezone": shown["timezone"],
              "hours": {str(d): [v["opens"], v["closes"]] for d, v in days.items() if v["open"]},
              "holidays": [h for h in re.split(r"[\s,;]+", holidays_text) if h]}
    return shown, values


@router.post("/calendars/{calendar_id}", response_class=HTMLResponse)
def update_calendar(calendar_id: int, request: Request, form: dict[str, str] = Depends(form_data),
                    db: Session = DB, actor: Actor = Depends(WRITE)) -> Response:
    shown, values = _calendar_input(form)
    return _attempt(request, db, actor, lambda: settings.update_calendar(db, actor, calendar_id, **values),
                    lambda cal: f"Calendar {cal.name!r} saved. {APPLIES}", anchor=f"calendar-{calendar_id}",
                    form_key=f"calendar:{calendar_id}", form=shown)


@router.post("/reasons", response_class=HTMLResponse)
def create_reason(request: Request, form: dict[str, str] = Depends(form_data), db: Session = DB,
                  actor: Actor = Depends(WRITE)) -> Response:
    shown = {"code": form.get("code", ""), "label": form.get("label", "")}
    return _attempt(request, db, actor, lambda: settings.create_reason(db, actor, **shown),
                    lambda r: f"Reason {r.code!r} ({r.label}) added: agents can choose it for new contacts.",
                    anchor="reasons-h", form_key="reason", form=shown)


@router.post("/reasons/{code}/label", response_class=HTMLResponse)
def rename_reason(code: str, request: Request, form: dict[str, str] = Depends(form_data),
                  db: Session = DB, actor: Actor = Depends(WRITE)) -> Response:
    label = form.get("label", "")
    return _attempt(request, db, actor, lambda: settings.update_reason(db, actor, code, label=label),
                    lambda r: f"Reason {code!r} is now labelled {r.label!r}.", anchor="reasons-h",
                    form_key=f"reason:{code}", form={"label": label})


@router.post("/reasons/{code}/active", response_class=HTMLResponse)
def set_reason_active(code: str, request: Request, form: dict[str, str] = Depends(form_data),
                      db: Session = DB, actor: Actor = Depends(WRITE)) -> Response:
    active = form.get("active") == "true"
    done = (f"Reason {code!r} reactivated." if active else
            f"Reason {code!r} deactivated: it stays on past cases but cannot be chosen for new ones.")
    return _attempt(request, db, actor, lambda: settings.update_reason(db, actor, code, active=active),
                    lambda _r: done, anchor="reasons-h", form_key=f"reason:{code}", form={})


@router.post("/reasons/{code}/delete", response_class=HTMLResponse)
def delete_reason(code: str, request: Request, db: Session = DB,
                  actor: Actor = Depends(WRITE)) -> Response:
    return _attempt(request, db, actor, lambda: settings.delete_reason(db, actor, code),
                    lambda _r: f"Reason {code!r} deleted.", anchor="reasons-h", form_key=f"reason:{code}", form={})

"""The staffing page: an Erlang C calculator and the staffing proposal per hour of the week."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from pxm.operations.staffing.erlang import StaffingInputError, calculate
from pxm.operations.staffing.service import WEEKDAYS, propose
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.config import Settings
from pxm.platform.http.deps import DB, get_settings_dep
from pxm.web.pages import render

router = APIRouter(include_in_schema=False)

FIELDS = (
    # name, label, default, hint
    ("contacts", "Contacts per interval", "100", "Phone and chat contacts offered in one interval"),
    ("interval_minutes", "Interval (minutes)", "30", "Usually 15, 30 or 60"),
    ("aht", "Average handle time (seconds)", "180", "Talk plus after-contact work"),
    ("target_seconds", "Answer within (seconds)", "20", "The service-level answer time"),
    ("service_level", "Target service level", "0.8", "Share answered within the target, e.g. 0.8"),
    ("agents", "Agents (optional)", "", "Leave empty to find the fewest that meet the target"),
    ("shrinkage", "Shrinkage (optional)", "0.3", "Share of paid time off the phones, e.g. 0.3"),
)
# what an error message offers as an example: the field's default (the published Erlang C case's 14 agents)
EXAMPLES = {name: default or "14" for name, _label, default, _hint in FIELDS}


def _num(form: dict[str, str], name: str, errors: dict[str, str], *, integer: bool = False,
         optional: bool = False) -> Any:
    raw = form.get(name, "").strip()
    if raw == "":
        if optional:
            return None
        errors[name] = f"enter a number, e.g. {EXAMPLES[name]}"
        return None
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        errors[name] = f"enter a {'whole ' if integer else ''}number, e.g. {EXAMPLES[name]}"
        return None


@router.get("/operations/staffing", response_class=HTMLResponse)
def staffing_page(request: Request, db: Session = DB, settings: Settings = Depends(get_settings_dep),
                  actor: Actor = Depends(require(Permission.staffing_read))) -> HTMLResponse:
    q = request.query_params
    form = {name: q.get(name, default) for name, _label, default, _hint in FIELDS}
    errors: dict[str, str] = {}
    result = None
    values = {
        "contacts": _num(form, "contacts", errors), "interval_minutes": _num(form, "interval_minutes", errors),
        "aht": _num(form, "aht", errors), "target_seconds": _num(form, "target_seconds", errors),
        "service_level": _num(form, "service_level", errors),
        "agents": _num(form, "agents", errors, integer=True, optional=True),
        "shrinkage": _num(form, "shrinkage", errors, optional=True),
    }
    if not errors:
        try:
            result = calculate(values["contacts"], values["interval_minutes"], values["aht"],
                               values["target_seconds"], values["service_level"], agents=values["agents"],
                               shrinkage=values["shrinkage"]).to_dict()
        except StaffingInputError as exc:
            errors["form"] = str(exc)
    proposal = None
    proposal_error = None
    try:
        proposal = propose(db, weeks=8, target_seconds=values["target_seconds"] or 20.0,
                           target_service_level=values["service_level"] or 0.8,
                           shrinkage=values["shrinkage"] if values["shrinkage"] is not None else 0.3,
                           timezone=settings.timezone)
    except StaffingInputError as exc:
        proposal_error = str(exc)
    return render(request, "staffing/index.html", {
        "page_title": "Staffing", "fields": FIELDS, "form": form, "errors": errors, "result": result,
        "proposal": proposal, "proposal_error": proposal_error, "weekdays": WEEKDAYS,
    }, status=422 if errors else 200)

"""The audit-log page: filter events, page through them, verify the chain on request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from pxm.platform.audit.query import AuditFilter, list_events
from pxm.platform.audit.service import verify_chain
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.pagination import PageParams, page_params
from pxm.web.pages import render

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, patient_id: str = "", action: str = "", actor_label: str = "",
               verify: bool = False, db: Session = DB, params: PageParams = Depends(page_params),
               actor: Actor = Depends(require(Permission.audit_read))) -> HTMLResponse:
    form = {"patient_id": patient_id.strip(), "action": action.strip()[:80], "actor_label": actor_label.strip()[:120]}
    errors: dict[str, str] = {}
    pid: int | None = None
    if form["patient_id"]:
        if form["patient_id"].isdigit() and int(form["patient_id"]) > 0:
            pid = int(form["patient_id"])
        else:
            errors["patient_id"] = "Patient id is the patient's number in PXM (digits only), e.g. 42"
    items: list[Any] = []
    total = 0
    if not errors:
        items, total = list_events(db, AuditFilter(patient_id=pid, action=form["action"] or None,
                                                   actor=form["actor_label"] or None), params.limit, params.offset)
    query = urlencode({k: v for k, v in form.items() if v})
    return render(request, "admin/audit.html", {
        "page_title": "Audit log", "items": items, "total": total, "params": params, "form": form,
        "errors": errors, "chain": verify_chain(db) if verify else None, "query": query,
    }, status=422 if errors else 200)

"""Pages of the feedback text feature: comment explorer, closed-loop queue, complaints board, public reviews.

Every page shows masked text only; the sealed originals are reachable through the audited API by users
with ``patients:read``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require, verify_csrf
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.platform.http.pagination import PageParams
from pxm.practices.feedback.complaints import service as complaints
from pxm.practices.feedback.complaints.models import ComplaintStatus, Severity
from pxm.practices.feedback.loop import metrics as loop_metrics
from pxm.practices.feedback.loop import service as loop
from pxm.practices.feedback.loop.service import TRIGGER_LABELS
from pxm.practices.feedback.reviews import service as reviews
from pxm.practices.feedback.text import service as text
from pxm.practices.feedback.text import themes
from pxm.web.pages import flash, render

router = APIRouter(prefix="/practices/feedback", include_in_schema=False, dependencies=[Depends(verify_csrf)])
PAGE_SIZE = 25


def _back(request: Request, url: str, message: str, kind: str = "success") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    flash(request, response, message, kind)
    return response


# --------------------------------------------------------------------------- comment explorer

@router.get("/comments", response_class=HTMLResponse)
def comments_page(request: Request, db: Session = DB,
                  actor: Actor = Depends(require(Permission.responses_read))) -> HTMLResponse:
    q = request.query_params
    theme = q.get("theme") or None
    label = q.get("sentiment") or None
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    error = None
    items: list[dict[str, Any]] = []
    total = 0
    try:
        items, total = text.list_comments(db, PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                          theme=theme, label=label)
    except APIError as exc:
        error = exc.message
    cat = themes.catalog()
    return render(request, "feedback_text/comments.html", {
        "page_title": "Comment explorer", "items": items, "total": total, "page": page, "page_size": PAGE_SIZE,
        "theme": theme, "sentiment": label, "themes": [(c, t.label_en) for c, t in cat.items()],
        "theme_labels": {c: t.label_en for c, t in cat.items()}, "summary": text.theme_summary(db)["themes"],
        "error": error, "can_read_raw": actor.can(Permission.patients_read),
    }, status=422 if error else 200)


# --------------------------------------------------------------------------- closed loop

@router.get("/loop", response_class=HTMLResponse)
def loop_page(request: Request, db: Session = DB,
              actor: Actor = Depends(require(Permission.cases_read))) -> HTMLResponse:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    return render(request, "feedback_text/loop.html", {
        "page_title": "Closed loop", "queue": loop_metrics.open_queue(db),
        "metrics": loop_metrics.loop_metrics(db, since=since), "trigger_labels": {k.value: v for k, v in
                                                                                 TRIGGER_LABELS.items()},
        "can_close": actor.can(Permission.cases_write),
    })


@router.post("/loop/{case_id}/close")
def loop_close(case_id: int, request: Request, action_taken: str = Form(""), db: Session = DB,
               actor: Actor = Depends(require(Permission.cases_write))) -> RedirectResponse:
    try:
        loop.close_recovery(db, actor, case_id, action_taken=action_taken)
    except APIError as exc:
        return _back(request, "/practices/feedback/loop", f"Case {case_id}: {exc.message}", "error")
    return _back(request, "/practices/feedback/loop", f"Case {case_id} closed: the loop is closed.")


# --------------------------------------------------------------------------- complaints

@router.get("/complaints", response_class=HTMLResponse)
def complaints_page(request: Request, db: Session = DB,
                    actor: Actor = Depends(require(Permission.complaints_read))) -> HTMLResponse:
    return render(request, "feedback_text/complaints.html", {
        "page_title": "Complaints & compliments", "board": complaints.board(db),
        "statuses": [s.value for s in ComplaintStatus], "severities": [s.value for s in Severity],
        "channels": complaints.CHANNELS, "categories": list(themes.THEME_CODES) + ["clinical_care", "privacy", "other"],
        "settings": complaints.get_settings(db), "can_write": actor.can(Permission.complaints_write),
        "next_status": {k: v for k, v in complaints._NEXT.items()},
    })


@router.post("/complaints")
def complaints_create(request: Request, kind: str = Form("complaint"), channel: str = Form("phone"),
                      category: str = Form(""), severity: str = Form("medium"), complex_: str = Form("", alias="complex"),
                      description: str = Form(""), patient_id: str = Form(""), db: Session = DB,
                      actor: Actor = Depends(require(Permission.complaints_write))) -> RedirectResponse:
    url = "/practices/feedback/complaints"
    try:
        pid = int(patient_id) if patient_id.strip() else None
    except ValueError:
        return _back(request, url, "Patient id must be a number (the patient's PXM id, not the MRN).", "error")
    try:
        row = complaints.create_complaint(db, actor, kind=kind, channel=channel, category=category,
                                          severity=severity, complex_=bool(complex_), description=description,
                                          patient_id=pid)
    except APIError as exc:
        return _back(request, url, f"Not recorded: {exc.message}", "error")
    extra = f" Recovery case {row.case_id} opened." if row.case_id else ""
    return _back(request, url, f"{row.kind.capitalize()} #{row.id} recorded.{extra}")


@router.post("/complaints/{complaint_id}/status")
def complaints_status(complaint_id: int, request: Request, status: str = Form(""), outcome_letter: str = Form(""),
                      db: Session = DB,
                      actor: Actor = Depends(require(Permission.complaints_write))) -> RedirectResponse:
    url = "/practices/feedback/complaints"
    try:
        complaints.update_complaint(db, actor, complaint_id, status=status or None,
                                    outcome_letter=outcome_letter if outcome_letter.strip() else None)
    except APIError as exc:
        return _back(request, url, f"Complaint #{complaint_id}: {exc.message}", "error")
    return _back(request, url, f"Complaint #{complaint_id} is now {status}.")


# --------------------------------------------------------------------------- public reviews

@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(request: Request, db: Session = DB,
                 actor: Actor = Depends(require(Permission.complaints_read))) -> HTMLResponse:
    rows, total = reviews.list_reviews(db, PageParams(limit=100, offset=0))
    return render(request, "feedback_text/reviews.html", {
        "page_title": "Public reviews", "reviews": [reviews.review_view(r) for r in rows], "total": total,
        "sources": reviews.SOURCES, "can_write": actor.can(Permission.complaints_write),
        "can_approve": actor.role in reviews.APPROVER_ROLES and actor.can(Permission.complaints_write),
    })


@router.post("/reviews")
def reviews_create(request: Request, source: str = Form(""), rating: str = Form(""), text_: str = Form("", alias="text"),
                   url: str = Form(""), posted_on: str = Form(""), author: str = Form(""),
                   db: Session = DB,
                   actor: Actor = Depends(require(Permission.complaints_write))) -> RedirectResponse:
    back = "/practices/feedback/reviews"
    try:
        stars = int(rating)
        posted = dt.datetime.fromisoformat(posted_on).replace(tzinfo=dt.UTC) if posted_on else dt.datetime.now(dt.UTC)
    except ValueError:
        return _back(request, back, "Rating must be 1-5 and the posted date a date (YYYY-MM-DD).", "error")
    try:
        row = reviews.record_review(db, actor, source=source, rating=stars, text=text_, url=url, posted_at=posted,
                                    author=author or None)
    except APIError as exc:
        return _back(request, back, f"Not recorded: {exc.message}", "error")
    return _back(request, back, f"Review #{row.id} recorded.")


@router.post("/reviews/{review_id}/reply")
def reviews_reply(review_id: int, request: Request, action: str = Form(""), reply: str = Form(""),
                  db: Session = DB,
                  actor: Actor = Depends(require(Permission.complaints_write))) -> RedirectResponse:
    back = "/practices/feedback/reviews"
    try:
        if action == "draft":
            reviews.draft_reply(db, actor, review_id, reply)
        elif action == "approve":
            reviews.approve_reply(db, actor, review_id)
        elif action == "publish":
            reviews.publish_reply(db, actor, review_id)
        else:
            return _back(request, back, "Choose draft, approve or publish.", "error")
    except APIError as exc:
        return _back(request, back, f"Review #{review_id}: {exc.message}", "error")
    done = {"draft": "saved as a draft", "approve": "approved", "publish": "marked as published"}[action]
    return _back(request, back, f"Reply to review #{review_id} {done}.")

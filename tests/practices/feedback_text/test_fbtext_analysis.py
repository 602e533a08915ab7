"""Comment analysis through the job, and that analysts only ever see masked text (API and page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.helpers.auth import login, token_headers

from pxm.platform.audit.models import AuditEvent
from pxm.platform.jobs import run_pending
from pxm.platform.jobs.models import Job
from pxm.practices.feedback.text.models import CommentAnalysis, CommentTheme
from pxm.practices.feedback.text.service import analyze_comment

RAW = ("Nurse Maria was wonderful but my name Rosalind was misspelled on the bill, call me at 555-123-4567 "
       "or rosalind@example.org, MRN 7654321, seen on 3/14/2026.")


def test_job_analyses_the_comment_and_masks_phi(db: Session, session_factory: sessionmaker[Session],
                                                respond: Callable[..., Any], make_patient: Callable[..., Any]) -> None:
    patient = make_patient(given="Rosalind")
    response = respond("nps", {"NPS": 9, "COMMENT": RAW}, patient)
    job = db.execute(select(Job).where(Job.kind == "feedback.analyze_comment")).scalars().all()
    assert [j.payload for j in job] == [{"response_id": response.id}]
    db.commit()
    run_pending(session_factory)
    db.expire_all()
    row = db.get(CommentAnalysis, response.id)
    assert row is not None
    assert row.masked_text == ("Nurse [NAME] was wonderful but my name [NAME] was misspelled on the bill, call me "
                               "at [PHONE] or [EMAIL], MRN [MRN], seen on [DATE].")
    assert row.mask_counts == {"email": 1, "mrn": 1, "date": 1, "phone": 1, "name": 2}
    assert "billing" in row.themes and "staff_attitude" in row.themes
    assert {t.theme for t in db.execute(select(CommentTheme).where(
        CommentTheme.response_id == response.id)).scalars()} == set(row.themes)
    assert response.comment_masked == row.masked_text
    # decrypting the comment and the patient's names for masking is audited
    actions = set(db.execute(select(AuditEvent.action).where(AuditEvent.patient_id == patient.id)).scalars())
    assert {"response.text_read", "patient.names_read"} <= actions


def test_reanalysis_replaces_the_row(db: Session, respond: Callable[..., Any], make_patient: Callable[..., Any]
                                     ) -> None:
    response = respond("nps", {"NPS": 9, "COMMENT": "Great food."}, make_patient())
    analyze_comment(db, response.id)
    analyze_comment(db, response.id)
    assert len(db.execute(select(CommentAnalysis).where(CommentAnalysis.response_id == response.id)).all()) == 1
    assert analyze_comment(db, respond("nps", {"NPS": 9}, make_patient()).id) is None


def test_analyst_api_returns_masked_text_never_the_raw_comment(client: Any, db: Session, respond: Callable[..., Any],
                                                               make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 9, "COMMENT": RAW}, make_patient(given="Rosalind"))
    analyze_comment(db, response.id)
    respond("nps", {"NPS": 9, "COMMENT": "The food was cold and bland."}, make_patient())
    analyze_comment(db, response.id + 1)
    db.commit()
    headers = token_headers(db, "analyst")
    body = client.get("/api/v1/feedback/comments", headers=headers).json()
    assert body["total"] == 2
    text = str(body)
    for secret in ("Rosalind", "Maria", "555-123-4567", "rosalind@example.org", "7654321", "3/14/2026"):
        assert secret not in text
    food = client.get("/api/v1/feedback/comments?theme=food&sentiment=negative", headers=headers).json()
    assert [c["response_id"] for c in food["items"]] == [response.id + 1]
    assert client.get("/api/v1/feedback/comments?theme=weather", headers=headers).status_code == 422
    # the raw comment: refused to an analyst, given (and audited) to a CX manager
    assert client.post(f"/api/v1/feedback/comments/{response.id}/raw", headers=headers).status_code == 403
    manager = token_headers(db, "cx_manager")
    raw = client.post(f"/api/v1/feedback/comments/{response.id}/raw", headers=manager)
    assert raw.status_code == 200 and raw.json()["comment"] == RAW
    summary = client.get("/api/v1/feedback/comments/themes", headers=headers).json()["themes"]
    assert {t["theme"]: t["negative"] for t in summary}["food"] == 1


def test_explorer_page_shows_masked_text_with_filters(client: Any, db: Session, respond: Callable[..., Any],
                                                      make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 9, "COMMENT": RAW}, make_patient(given="Rosalind"))
    analyze_comment(db, response.id)
    db.commit()
    login(client, db, "analyst")
    page = client.get("/practices/feedback/comments")
    assert page.status_code == 200
    assert "Nurse [NAME] was wonderful" in page.text
    assert "Rosalind" not in page.text and "555-123-4567" not in page.text
    assert client.get("/practices/feedback/comments?theme=parking").text.count('class="comment"') == 0
    assert client.get("/practices/feedback/comments?theme=billing").text.count('class="comment"') == 1

"""Public reviews: record, draft -> approve (CX manager only) -> publish, audited; pages for each role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.helpers.auth import login, token_headers

from pxm.platform.audit.models import AuditEvent

REVIEW = {"source": "google", "rating": 1, "text": "Waited three hours in the ER and the nurse was rude. Awful.",
          "url": "https://maps.example.com/review/123", "posted_at": "2026-05-02T10:00:00Z", "author": "J. D."}


def test_reply_workflow_and_who_may_approve(client: Any, db: Session) -> None:
    agent = token_headers(db, "agent")
    manager = token_headers(db, "cx_manager")
    created = client.post("/api/v1/reviews", json=REVIEW, headers={**agent, "Idempotency-Key": "rv-1"})
    assert created.status_code == 201, created.text
    review = created.json()
    assert review["sentiment"]["label"] == "negative"
    assert {"wait_time", "staff_attitude"} <= set(review["themes"])
    rid = review["id"]
    assert client.post("/api/v1/reviews", json=REVIEW, headers={**agent, "Idempotency-Key": "rv-1"}).json()["id"] == rid
    assert client.post("/api/v1/reviews", json=REVIEW, headers=agent).status_code == 409  # same url

    # publishing before approval is refused
    assert client.post(f"/api/v1/reviews/{rid}/reply/publish", headers=agent).status_code == 409
    draft = client.put(f"/api/v1/reviews/{rid}/reply", json={"text": "We are sorry. Please call our patient "
                                                              "relations office so we can make this right."},
                       headers=agent)
    assert draft.json()["reply"]["status"] == "draft" and draft.json()["reply"]["warnings"] == []
    # an agent may draft but not approve; an analyst may do neither
    refused = client.post(f"/api/v1/reviews/{rid}/reply/approve", headers=agent)
    assert refused.status_code == 403 and "CX manager" in refused.json()["error"]["message"]
    assert client.post(f"/api/v1/reviews/{rid}/reply/approve", headers=token_headers(db, "analyst")).status_code == 403
    approved = client.post(f"/api/v1/reviews/{rid}/reply/approve", headers=manager)
    assert approved.status_code == 200 and approved.json()["reply"]["status"] == "approved"
    published = client.post(f"/api/v1/reviews/{rid}/reply/publish", headers=agent)
    assert published.json()["reply"]["status"] == "published"
    assert client.put(f"/api/v1/reviews/{rid}/reply", json={"text": "changed"}, headers=agent).status_code == 409
    actions = db.execute(select(AuditEvent.action).where(AuditEvent.resource_type == "public_review",
                                                         AuditEvent.resource_id == str(rid))
                         .order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["review.recorded", "review.reply_drafted", "review.reply_approved", "review.reply_published"]


def test_redrafting_an_approved_reply_needs_approval_again(client: Any, db: Session) -> None:
    agent, manager = token_headers(db, "agent"), token_headers(db, "cx_manager")
    rid = client.post("/api/v1/reviews", json={**REVIEW, "url": "https://x.example.com/2"}, headers=agent).json()["id"]
    client.put(f"/api/v1/reviews/{rid}/reply", json={"text": "Thank you for your feedback."}, headers=agent)
    client.post(f"/api/v1/reviews/{rid}/reply/approve", headers=manager)
    body = client.put(f"/api/v1/reviews/{rid}/reply", json={"text": "We reviewed your visit on March 3."},
                      headers=agent).json()
    assert body["reply"]["status"] == "draft" and body["reply"]["approved_by"] is None
    assert len(body["reply"]["warnings"]) == 2  # confirms a visit; contains a date
    assert client.post(f"/api/v1/reviews/{rid}/reply/publish", headers=agent).status_code == 409


def test_bad_review_input_is_a_clear_422(client: Any, db: Session) -> None:
    agent = token_headers(db, "agent")
    bad = client.post("/api/v1/reviews", json={**REVIEW, "rating": 9}, headers=agent)
    assert bad.status_code == 422 and "rating must be 1 to 5" in bad.json()["error"]["message"]
    bad = client.post("/api/v1/reviews", json={**REVIEW, "url": "not a url"}, headers=agent)
    assert bad.status_code == 422 and "url" in bad.json()["error"]["message"]


def test_reviews_page_approve_button_only_for_managers(client: Any, db: Session) -> None:
    agent = token_headers(db, "agent")
    rid = client.post("/api/v1/reviews", json={**REVIEW, "url": "https://x.example.com/3"}, headers=agent).json()["id"]
    client.put(f"/api/v1/reviews/{rid}/reply", json={"text": "Thank you for your feedback."}, headers=agent)
    login(client, db, "agent")
    page = client.get("/practices/feedback/reviews")
    assert page.status_code == 200 and "Save draft" in page.text and 'value="approve"' not in page.text
    client.cookies.clear()
    headers = login(client, db, "cx_manager")
    page = client.get("/practices/feedback/reviews")
    assert 'value="approve"' in page.text
    done = client.post(f"/practices/feedback/reviews/{rid}/reply",
                       data={"action": "approve", "reply": "", "csrf_token": headers["X-CSRF-Token"]},
                       follow_redirects=True)
    assert done.status_code == 200 and f"Reply to review #{rid} approved." in done.text

"""The closed-loop page: queue with age and SLA, closing from the page; navigation entries per role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.helpers.auth import login

from pxm.practices.feedback.loop.models import RecoveryLink
from pxm.practices.resolution.models import Case


def test_loop_queue_and_close_from_the_page(client: Any, db: Session, respond: Callable[..., Any],
                                            make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 2}, make_patient())
    case_id = db.execute(select(RecoveryLink.case_id).where(RecoveryLink.response_id == response.id)).scalar_one()
    db.commit()
    headers = login(client, db, "agent")
    page = client.get("/practices/feedback/loop")
    assert page.status_code == 200
    assert f"#{case_id}" in page.text and "Detractor (NPS 0-6)" in page.text
    assert 'id="m-opened">1<' in page.text and 'id="m-rate">0.0%<' in page.text
    short = client.post(f"/practices/feedback/loop/{case_id}/close",
                        data={"action_taken": "ok", "csrf_token": headers["X-CSRF-Token"]}, follow_redirects=True)
    assert "at least 5 characters" in short.text
    done = client.post(f"/practices/feedback/loop/{case_id}/close",
                       data={"action_taken": "Called, apologised, rebooked", "csrf_token": headers["X-CSRF-Token"]},
                       follow_redirects=True)
    assert done.status_code == 200 and f"Case {case_id} closed" in done.text
    assert "No open service-recovery cases." in done.text and 'id="m-rate">100.0%<' in done.text
    db.expire_all()
    assert db.get(Case, case_id).status == "resolved"  # type: ignore[union-attr]


def test_form_posts_need_the_csrf_token(client: Any, db: Session, respond: Callable[..., Any],
                                        make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 2}, make_patient())
    case_id = db.execute(select(RecoveryLink.case_id).where(RecoveryLink.response_id == response.id)).scalar_one()
    db.commit()
    login(client, db, "agent")
    r = client.post(f"/practices/feedback/loop/{case_id}/close", data={"action_taken": "Called the patient"})
    assert r.status_code == 403


def test_navigation_and_page_permissions_by_role(client: Any, db: Session) -> None:
    login(client, db, "analyst")
    home = client.get("/practices/feedback/comments")
    assert 'href="/practices/feedback/comments"' in home.text
    assert 'href="/practices/feedback/complaints"' not in home.text  # analysts do not handle complaints
    assert client.get("/practices/feedback/complaints").status_code == 403
    assert client.get("/practices/feedback/loop").status_code == 403
    client.cookies.clear()
    login(client, db, "agent")
    for url in ("/practices/feedback/loop", "/practices/feedback/complaints", "/practices/feedback/reviews",
                "/practices/feedback/comments"):
        assert client.get(url).status_code == 200, url

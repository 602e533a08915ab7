"""Feedback pages as a cx_manager sees them: results with charts and tables, instruments, outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from tests.helpers.auth import login

from pxm.platform.auth.actor import Actor
from pxm.practices.feedback.service import record_response


def test_results_page_shows_counts_charts_and_small_sample_warning(client: Any, db: Session, actor: Actor) -> None:
    for score in (10, 9, 2):
        record_response(db, actor, instrument="nps", answers={"NPS": score})
    record_response(db, actor, instrument="pulse", answers={"CSAT": 5, "RESOLVED": "yes"})
    db.commit()
    login(client, db, "cx_manager")
    r = client.get("/practices/feedback?by=month")
    assert r.status_code == 200
    assert 'data-testid="responses-count">4<' in r.text
    assert "1 detractors" in r.text and "2 promoters" in r.text
    assert '<svg class="chart"' in r.text and "small sample" in r.text
    assert 'id="nps-table"' in r.text and "cdn" not in r.text.lower()


def test_instruments_and_outbox_pages(client: Any, db: Session) -> None:
    login(client, db, "cx_manager")
    r = client.get("/practices/feedback/instruments")
    assert r.status_code == 200 and ">cxm<" in r.text and ">inpatient<" in r.text
    inst_id = r.text.split('/practices/feedback/instruments/')[1].split('"')[0]
    detail = client.get(f"/practices/feedback/instruments/{inst_id}?lang=es")
    assert detail.status_code == 200 and "Ver en" not in detail.text and "Show in English" in detail.text
    assert client.get("/practices/feedback/outbox").status_code == 200


def test_analyst_sees_results_but_not_outbox(client: Any, db: Session) -> None:
    login(client, db, "analyst")
    assert client.get("/practices/feedback").status_code == 200
    assert client.get("/practices/feedback/outbox").status_code == 403

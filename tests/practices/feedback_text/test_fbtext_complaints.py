"""Complaints and compliments: due dates, lifecycle, masked views, API with Idempotency-Key, board."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from tests.helpers.auth import login, token_headers

from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import APIError
from pxm.practices.feedback.complaints import service
from pxm.practices.feedback.complaints.models import Complaint

T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)


def _new(db: Session, actor: Actor, **kw: Any) -> Complaint:
    values: dict[str, Any] = dict(kind="complaint", channel="phone", category="billing",
                                  description="Charged twice for one visit", received_at=T0)
    values.update(kw)
    return service.create_complaint(db, actor, **values)


def test_due_dates_standard_7_days_complex_21(db: Session, actor: Actor) -> None:
    standard = _new(db, actor)
    complex_ = _new(db, actor, complex_=True)
    compliment = _new(db, actor, kind="compliment", category="staff_attitude", description="Lovely nurses")
    assert standard.resolution_due_at == T0 + dt.timedelta(days=7)
    assert standard.acknowledge_due_at == T0 + dt.timedelta(days=2)
    assert complex_.resolution_due_at == T0 + dt.timedelta(days=21)
    assert compliment.resolution_due_at is None and compliment.acknowledge_due_at is None
    # marking a complaint complex later moves its due date
    service.update_complaint(db, actor, standard.id, complex_=True)
    assert standard.resolution_due_at == T0 + dt.timedelta(days=21)


def test_due_dates_are_configurable(db: Session, actor: Actor) -> None:
    service.update_settings(db, actor, standard_days=10, complex_days=30, acknowledge_days=1)
    row = _new(db, actor)
    assert (row.acknowledge_due_at, row.resolution_due_at) == (T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=10))
    with pytest.raises(APIError, match="standard_days must not exceed"):
        service.update_settings(db, actor, standard_days=40)


def test_lifecycle_and_overdue_flags(db: Session, actor: Actor) -> None:
    row = _new(db, actor)
    assert service.overdue_flags(row, T0 + dt.timedelta(days=3)) == ["acknowledgement"]
    assert service.overdue_flags(row, T0 + dt.timedelta(days=8)) == ["acknowledgement", "resolution"]
    service.update_complaint(db, actor, row.id, status="acknowledged", at=T0 + dt.timedelta(days=1))
    service.update_complaint(db, actor, row.id, status="investigating", at=T0 + dt.timedelta(days=2))
    assert service.overdue_flags(row, T0 + dt.timedelta(days=8)) == ["resolution"]
    with pytest.raises(APIError, match="outcome_letter"):
        service.update_complaint(db, actor, row.id, status="resolved")
    service.update_complaint(db, actor, row.id, status="resolved", outcome_letter="Dear patient, we refunded ...",
                             at=T0 + dt.timedelta(days=5))
    assert service.overdue_flags(row, T0 + dt.timedelta(days=8)) == []
    with pytest.raises(APIError, match="cannot move to acknowledged"):
        service.update_complaint(db, actor, row.id, status="acknowledged")
    service.update_complaint(db, actor, row.id, status="closed", at=T0 + dt.timedelta(days=6))
    assert (row.status, row.resolved_at, row.closed_at) == ("closed", T0 + dt.timedelta(days=5),
                                                            T0 + dt.timedelta(days=6))


def test_description_is_sealed_and_shown_masked(db: Session, actor: Actor, make_patient: Callable[..., Any]) -> None:
    p = make_patient(given="Rosalind")
    row = _new(db, actor, patient_id=p.id, description="Rosalind here, call 555-123-4567 about Dr. Smith")
    view = service.complaint_view(row)
    assert view["description_masked"] == "[NAME] here, call [PHONE] about Dr. [NAME]"
    assert "description" not in view and "outcome_letter" not in view
    stored = db.execute(text("SELECT description FROM complaints WHERE id = :i"), {"i": row.id}).scalar_one()
    assert b"Rosalind" not in bytes(stored)


def test_api_create_is_idempotent_and_validates(client: Any, db: Session, make_patient: Callable[..., Any]) -> None:
    p = make_patient()
    db.commit()
    headers = {**token_headers(db, "agent"), "Idempotency-Key": "cmp-1"}
    body = {"kind": "complaint", "channel": "email", "category": "wait_time", "severity": "high",
            "description": "Waited four hours", "patient_id": p.id}
    first = client.post("/api/v1/complaints", json=body, headers=headers)
    again = client.post("/api/v1/complaints", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["case_id"] is not None
    assert db.execute(select(func.count()).select_from(Complaint)).scalar_one() == 1
    bad = client.post("/api/v1/complaints", json={**body, "channel": "pigeon"}, headers=token_headers(db, "agent"))
    assert bad.status_code == 422 and "channel must be one of" in bad.json()["error"]["message"]
    cid = first.json()["id"]
    patched = client.patch(f"/api/v1/complaints/{cid}", json={"status": "acknowledged"},
                           headers=token_headers(db, "agent"))
    assert patched.status_code == 200 and patched.json()["acknowledged_at"] is not None
    listed = client.get("/api/v1/complaints?status=acknowledged", headers=token_headers(db, "cx_manager")).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    assert client.get("/api/v1/complaints", headers=token_headers(db, "analyst")).status_code == 403
    assert client.post(f"/api/v1/complaints/{cid}/text", headers=token_headers(db, "cx_manager")).json()[
        "description"] == "Waited four hours"


def test_board_page_has_columns_and_overdue_flags(client: Any, db: Session, actor: Actor) -> None:
    _new(db, actor, received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    _new(db, actor, category="food", description="Cold soup", received_at=dt.datetime.now(dt.UTC))
    db.commit()
    login(client, db, "cx_manager")
    page = client.get("/practices/feedback/complaints")
    assert page.status_code == 200
    for col in ("Received (2)", "Acknowledged (0)", "Investigating (0)", "Resolved (0)", "Closed (0)"):
        assert col in page.text
    assert page.text.count("resolution overdue") == 1
    assert "1 overdue." in page.text

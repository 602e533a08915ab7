"""``GET /api/v1/audit/events`` and ``/api/v1/audit/verify``: auditors read the log; others are refused."""

from __future__ import annotations

from sqlalchemy import func, select
from tests.helpers.auth import token_headers

from pxm.platform.audit import record
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor


def _seed(db) -> int:
    actor = Actor.system("tests")
    base = int(db.execute(select(func.coalesce(func.max(AuditEvent.seq), 0))).scalar_one())
    for i in range(5):
        record(db, actor, "patient.read" if i % 2 else "case.update", "patient", i, patient_id=900 + i % 2)
    db.commit()
    return base


def test_events_need_audit_read(client, db):
    assert client.get("/api/v1/audit/events").status_code == 401
    assert client.get("/api/v1/audit/events", headers=token_headers(db, "agent")).status_code == 403
    assert client.get("/api/v1/audit/verify", headers=token_headers(db, "cx_manager")).status_code == 403


def test_events_are_filtered_and_paginated(client, db):
    base = _seed(db)
    h = token_headers(db, "auditor")
    page = client.get("/api/v1/audit/events", params={"patient_id": 901, "limit": 1}, headers=h).json()
    assert page["total"] == 2 and page["limit"] == 1 and len(page["items"]) == 1
    assert page["items"][0]["seq"] == base + 4 and page["items"][0]["action"] == "patient.read"
    second = client.get("/api/v1/audit/events", params={"patient_id": 901, "limit": 1, "offset": 1},
                        headers=h).json()
    assert second["items"][0]["seq"] == base + 2
    cases = client.get("/api/v1/audit/events", params={"action": "case.*", "actor": "system:tests"},
                       headers=h).json()
    assert cases["total"] == 3 and {e["action"] for e in cases["items"]} == {"case.update"}


def test_bad_filter_is_a_clear_422(client, db):
    resp = client.get("/api/v1/audit/events", params={"since": "yesterday"}, headers=token_headers(db, "auditor"))
    assert resp.status_code == 422 and "since" in resp.text


def test_verify_reports_the_chain(client, db):
    base = _seed(db)
    h = token_headers(db, "auditor")
    body = client.get("/api/v1/audit/verify", headers=h).json()
    # token creation and user creation are audited too, so the count is at least what we wrote
    assert body["intact"] is True and body["first_broken_seq"] is None and body["events"] >= base + 5
    assert body["last_seq"] == body["events"]

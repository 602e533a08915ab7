"""People JSON API as a client sees it: roles, PHI only where audited, lookups in POST bodies, clear errors."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth import service as auth_service
from pxm.platform.auth.actor import Actor

PHI_KEYS = {"mrn", "given_name", "family_name", "birth_date", "zip_code", "phone", "email"}
BODY = {"mrn": "API-7781", "given_name": "Philomena", "family_name": "Vandersloot", "birth_date": "1958-09-30",
        "sex": "F", "zip_code": "60625", "phone": "+1 773 555 0123", "email": "phil.v@example.org",
        "preferred_language": "es", "preferred_channel": "sms", "consent_sms": True, "conditions": ["asthma"]}


def _login(db, role: str) -> dict[str, str]:
    sys = Actor.system("test")
    user = auth_service.create_user(db, sys, username=f"{role}-{uuid.uuid4().hex[:6]}", display_name=role,
                                    role=role, password="correct-horse-battery")
    secret, _ = auth_service.create_api_token(db, sys, user, "test")
    db.flush()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin(db):
    return _login(db, "admin")


def _create(client, headers, **changes):
    r = client.post("/api/v1/patients", json={**BODY, **changes}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_answers_without_phi_and_get_returns_it_audited(client, admin, db):
    created = _create(client, admin)
    assert not PHI_KEYS & set(created) and created["zip3"] == "606" and created["birth_year"] == 1958
    r = client.get(f"/api/v1/patients/{created['id']}", headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert (body["given_name"], body["mrn"], body["phone"]) == ("Philomena", "API-7781", "+17735550123")
    reads = db.execute(select(AuditEvent).where(AuditEvent.action == "patient.read",
                                                AuditEvent.patient_id == created["id"])).scalars().all()
    assert len(reads) == 1 and reads[0].actor.startswith("token:admin")


def test_patient_list_is_deidentified_and_paginated(client, admin):
    for i in range(3):
        _create(client, admin, mrn=f"LIST-{i}", email=f"p{i}@example.org")
    r = client.get("/api/v1/patients", params={"limit": 2, "language": "es"}, headers=admin)
    assert r.status_code == 200
    page = r.json()
    assert page["total"] >= 3 and len(page["items"]) == 2 and page["limit"] == 2
    text = r.text
    for item in page["items"]:
        assert not PHI_KEYS & set(item)
    assert "Philomena" not in text and "Vandersloot" not in text and "LIST-" not in text and "@" not in text


def test_search_by_mrn_or_email_in_the_body(client, admin):
    created = _create(client, admin)
    r = client.post("/api/v1/patients/search", json={"mrn": "api-7781"}, headers=admin)
    assert r.status_code == 200 and [p["id"] for p in r.json()["items"]] == [created["id"]]
    r = client.post("/api/v1/patients/search", json={"email": "PHIL.V@example.org"}, headers=admin)
    assert [p["family_name"] for p in r.json()["items"]] == ["Vandersloot"]
    assert client.post("/api/v1/patients/search", json={"mrn": "nobody"}, headers=admin).json()["items"] == []
    r = client.post("/api/v1/patients/search", json={"mrn": "x", "email": "a@example.org"}, headers=admin)
    assert r.status_code == 422 and "exactly one of mrn or email" in r.text
    # the API has no route that takes an MRN or email in the URL
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path, ops in paths.items():
        for op in ops.values():
            for param in op.get("parameters", []):
                assert param["name"] not in PHI_KEYS, (path, param["name"])


def test_duplicate_mrn_and_bad_input_are_clear(client, admin):
    _create(client, admin)
    r = client.post("/api/v1/patients", json={**BODY, "mrn": "API-7781"}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["message"].startswith("mrn:")
    r = client.post("/api/v1/patients", json={**BODY, "mrn": "N-1", "email": "not-an-email"}, headers=admin)
    assert r.status_code == 422 and "email" in r.json()["error"]["message"]
    r = client.post("/api/v1/patients", json={**BODY, "mrn": "N-2", "preferred_channel": "pigeon"}, headers=admin)
    assert r.status_code == 422 and "preferred_channel" in r.json()["error"]["message"]
    r = client.post("/api/v1/patients", json={**BODY, "mrn": "N-3", "home_facility_id": 999999}, headers=admin)
    assert r.status_code == 422 and "home_facility_id" in r.json()["error"]["message"]


def test_patch_updates_and_refuses_duplicates(client, admin, db):
    a = _create(client, admin)
    _create(client, admin, mrn="OTHER-1")
    r = client.patch(f"/api/v1/patients/{a['id']}", json={"phone": "312-555-0199", "consent_email": True},
                     headers=admin)
    assert r.status_code == 200 and r.json()["phone"] == "3125550199" and r.json()["consent_email"] is True
    ev = db.execute(select(AuditEvent).where(AuditEvent.action == "patient.update",
                                             AuditEvent.patient_id == a["id"])).scalars().one()
    assert ev.details == {"fields": ["consent_email", "phone"]}
    r = client.patch(f"/api/v1/patients/{a['id']}", json={"mrn": "other-1"}, headers=admin)
    assert r.status_code == 409
    r = client.patch(f"/api/v1/patients/{a['id']}", json={"family_name": None}, headers=admin)
    assert r.status_code == 422 and "family_name" in r.json()["error"]["message"]
    assert client.patch("/api/v1/patients/987654321", json={"sex": "F"}, headers=admin).status_code == 404


def test_idempotent_create_replays_without_a_second_patient(client, admin):
    h = {**admin, "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/patients", json=BODY, headers=h)
    again = client.post("/api/v1/patients", json=BODY, headers=h)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_roles_decide_who_sees_phi(client, admin, db):
    created = _create(client, admin)
    analyst = _login(db, "analyst")
    agent = _login(db, "agent")
    assert client.get(f"/api/v1/patients/{created['id']}", headers=analyst).status_code == 403
    assert client.get("/api/v1/patients", headers=analyst).status_code == 200
    assert client.post("/api/v1/patients", json={**BODY, "mrn": "A-9"}, headers=agent).status_code == 403
    assert client.get(f"/api/v1/patients/{created['id']}", headers=agent).status_code == 200
    assert client.get("/api/v1/patients").status_code == 401


def test_org_units_staff_and_encounters_api(client, admin, db):
    fac = client.post("/api/v1/org-units", json={"code": "API-F", "name": "API Hospital", "kind": "facility"},
                      headers=admin).json()
    dep = client.post("/api/v1/org-units", json={"code": "API-ED", "name": "ED", "kind": "department",
                                                  "parent_id": fac["id"]}, headers=admin)
    assert dep.status_code == 201
    dep = dep.json()
    r = client.post("/api/v1/org-units", json={"code": "API-X", "name": "x", "kind": "ward"}, headers=admin)
    assert r.status_code == 422 and "kind" in r.json()["error"]["message"]
    r = client.post("/api/v1/org-units", json={"code": "API-Y", "name": "y", "kind": "department",
                                                "timezone": "Mars/Olympus"}, headers=admin)
    assert r.status_code == 422 and "timezone" in r.json()["error"]["message"]
    staff = client.post("/api/v1/staff", json={"username": "ana.api", "display_name": "Ana", "job_role": "agent",
                                               "org_unit_id": dep["id"], "languages": ["en", "es"],
                                               "reasons": ["billing"], "channels": ["phone"], "capacity": 4},
                        headers=admin)
    assert staff.status_code == 201
    sid = staff.json()["id"]
    r = client.post(f"/api/v1/staff/{sid}/status", json={"status": "available"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "available"
    agent = _login(db, "agent")
    assert client.post(f"/api/v1/staff/{sid}/status", json={"status": "away"}, headers=agent).status_code == 403
    found = client.get("/api/v1/staff", params={"language": "es", "org_unit_id": dep["id"]}, headers=admin).json()
    assert [s["username"] for s in found["items"]] == ["ana.api"]
    assert client.patch(f"/api/v1/staff/{sid}", json={"capacity": -1}, headers=admin).status_code == 422
    p = _create(client, admin)
    r = client.post(f"/api/v1/patients/{p['id']}/encounters",
                    json={"type": "emergency", "department_id": dep["id"], "provider_id": sid,
                          "admit_at": "2025-01-10T08:00:00Z", "discharge_at": "2025-01-10T07:00:00Z"}, headers=admin)
    assert r.status_code == 422 and "discharge_at" in r.json()["error"]["message"]
    r = client.post(f"/api/v1/patients/{p['id']}/encounters",
                    json={"type": "emergency", "department_id": dep["id"], "admit_at": "2025-01-10T08:00:00Z",
                          "charges": "812.40", "wait_minutes": 35}, headers=admin)
    assert r.status_code == 201
    listed = client.get(f"/api/v1/patients/{p['id']}/encounters", headers=admin).json()
    assert listed["total"] == 1 and listed["items"][0]["type"] == "emergency"
    assert client.delete(f"/api/v1/org-units/{dep['id']}", headers=admin).status_code == 409
    assert client.delete(f"/api/v1/staff/{sid}", headers=admin).json()["active"] is False

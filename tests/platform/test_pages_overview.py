"""The overview shows real counts that move when rows are added; the admin pages manage users and tokens."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from sqlalchemy import func, select
from tests.helpers.auth import login, make_user, token_headers
from tests.platform.test_pages_layout import HTML, _csrf, form_login

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.models import ApiToken, User
from pxm.platform.db.base import utcnow
from pxm.platform.people.crypto import blind_index
from pxm.platform.people.models import Encounter, OrgUnit, Patient, Staff


def _stat(html: str, card: str) -> int:
    m = re.search(rf'id="{card}".*?<p class="stat">([\d,]+)</p>', html, re.S)
    assert m, f"card {card} missing"
    return int(m.group(1).replace(",", ""))


def _add_rows(db) -> None:
    tag = uuid.uuid4().hex[:6]
    facility = OrgUnit(code=f"F-{tag}", name="General", kind="facility")
    db.add(facility)
    db.flush()
    dept = OrgUnit(code=f"D-{tag}", name="Cardiology", kind="department", parent_id=facility.id)
    db.add(dept)
    db.flush()
    patient = Patient(mrn=f"MRN{tag}", mrn_index=blind_index(f"MRN{tag}", "mrn"), given_name="Ada",
                      family_name="Lovelace")
    db.add(patient)
    db.add(Staff(username=f"nurse-{tag}", display_name="N", job_role="nurse", status="available"))
    db.flush()
    now = utcnow()
    db.add_all([
        Encounter(patient_id=patient.id, type="emergency", department_id=dept.id, admit_at=now - dt.timedelta(days=2)),
        Encounter(patient_id=patient.id, type="outpatient", department_id=dept.id, admit_at=now - dt.timedelta(days=3)),
        Encounter(patient_id=patient.id, type="outpatient", department_id=dept.id, admit_at=now - dt.timedelta(days=90)),
    ])
    db.commit()


def test_overview_counts_change_when_rows_are_added(client, db):
    headers = token_headers(db, "auditor")
    before = client.get("/api/v1/overview", headers=headers).json()
    _add_rows(db)
    after = client.get("/api/v1/overview", headers=headers).json()
    assert after["patients"] == before["patients"] + 1
    assert after["encounters"]["total"] == before["encounters"]["total"] + 3
    assert after["encounters"]["last_window"] == before["encounters"]["last_window"] + 2  # the 90-day-old one is out
    by_type_b, by_type_a = before["encounters"]["last_window_by_type"], after["encounters"]["last_window_by_type"]
    assert by_type_a["emergency"] == by_type_b.get("emergency", 0) + 1
    assert by_type_a["outpatient"] == by_type_b.get("outpatient", 0) + 1
    assert after["staff"]["by_job_role"]["nurse"] == before["staff"]["by_job_role"].get("nurse", 0) + 1
    assert after["staff"]["by_status"]["available"] == before["staff"]["by_status"].get("available", 0) + 1
    assert after["org_units"]["facilities"] == before["org_units"]["facilities"] + 1
    assert after["org_units"]["departments"] == before["org_units"]["departments"] + 1


def test_overview_page_shows_the_counts_and_reads_no_phi(client, db):
    user = make_user(db, "agent")
    form_login(client, user.username)
    before = client.get("/", headers=HTML).text
    audit_before = db.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    _add_rows(db)
    page = client.get("/", headers=HTML)
    assert page.status_code == 200
    after = page.text
    assert _stat(after, "count-patients") == _stat(before, "count-patients") + 1
    assert _stat(after, "count-encounters") == _stat(before, "count-encounters") + 2
    assert _stat(after, "count-staff") == _stat(before, "count-staff") + 1
    assert _stat(after, "count-facilities") == _stat(before, "count-facilities") + 1
    assert "Emergency" in after and "Nurse" in after
    assert "Ada" not in after and "Lovelace" not in after
    db.expire_all()
    assert db.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == audit_before


def test_admin_creates_user_through_the_form(client, db):
    admin = make_user(db, "admin")
    form_login(client, admin.username)
    page = client.get("/admin/users", headers=HTML)
    assert page.status_code == 200 and '<label for="new-username">' in page.text
    r = client.post("/admin/users", headers=HTML, follow_redirects=False, data={
        "csrf_token": _csrf(page.text), "username": "grace", "display_name": "Grace Hopper",
        "role": "analyst", "password": "compilers-1952"})
    assert r.status_code == 303
    detail = client.get(r.headers["location"], headers=HTML)
    assert "User grace created." in detail.text and "Grace Hopper" in detail.text
    assert "User grace created." not in client.get(r.headers["location"], headers=HTML).text  # shown once
    assert db.execute(select(User).where(User.username == "grace")).scalar_one().role == "analyst"


def test_admin_form_errors_name_the_field(client, db):
    admin = make_user(db, "admin")
    form_login(client, admin.username)
    csrf = _csrf(client.get("/admin/users", headers=HTML).text)
    r = client.post("/admin/users", headers=HTML, data={
        "csrf_token": csrf, "username": "hal", "display_name": "Hal", "role": "agent", "password": "short"})
    assert r.status_code == 422
    assert 'id="new-password-error"' in r.text and 'value="hal"' in r.text
    assert db.execute(select(func.count()).select_from(User).where(User.username == "hal")).scalar_one() == 0
    r = client.post("/admin/users", headers=HTML, data={
        "csrf_token": csrf, "username": admin.username, "display_name": "Dup", "role": "agent",
        "password": "long-enough-password"})
    assert r.status_code == 409 and 'id="new-username-error"' in r.text and "already exists" in r.text


def test_admin_issues_token_shown_once_then_revokes_and_deactivates(client, db):
    admin = make_user(db, "admin")
    target = make_user(db, "analyst")
    form_login(client, admin.username)
    page = client.get(f"/admin/users/{target.id}", headers=HTML)
    csrf = _csrf(page.text)
    r = client.post(f"/admin/users/{target.id}/tokens", headers=HTML, data={"csrf_token": csrf, "name": "bi"})
    assert r.status_code == 201
    secret = re.search(r'id="new-token">(pxm_[^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    assert secret not in client.get(f"/admin/users/{target.id}", headers=HTML).text
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/overview", headers=bearer).status_code == 200
    tok = db.execute(select(ApiToken).where(ApiToken.user_id == target.id)).scalar_one()
    r = client.post(f"/admin/users/{target.id}/tokens/{tok.id}/revoke", headers=HTML, data={"csrf_token": csrf})
    assert r.status_code == 200 and "Token bi revoked." in r.text
    assert client.get("/api/v1/overview", headers=bearer).status_code == 401
    r = client.post(f"/admin/users/{target.id}/active", headers=HTML, data={"csrf_token": csrf, "active": "false"})
    assert r.status_code == 200 and "deactivated" in r.text
    db.expire_all()
    assert db.get(User, target.id).active is False  # type: ignore[union-attr]


def test_non_admin_gets_403_page(client, db):
    login(client, db, "cx_manager")
    r = client.get("/admin/users", headers=HTML)
    assert r.status_code == 403 and "Not allowed" in r.text and "users:manage" in r.text

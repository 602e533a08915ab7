"""The audit-log page: auditors filter events and verify the chain; bad input names the field."""

from __future__ import annotations

from tests.helpers.auth import login

from pxm.platform.audit import record
from pxm.platform.auth.actor import Actor


def test_auditor_filters_and_verifies(client, db):
    actor = Actor.system("tests")
    record(db, actor, "patient.read", "patient", 7, patient_id=7)
    record(db, actor, "case.update", "case", 3, patient_id=8)
    db.commit()
    login(client, db, "auditor")
    page = client.get("/admin/audit", params={"patient_id": "7"})
    assert page.status_code == 200
    assert "patient.read" in page.text and "case.update" not in page.text
    assert 'href="/admin/audit"' in page.text  # the nav entry is a live link
    checked = client.get("/admin/audit", params={"verify": "true"})
    assert "Intact:" in checked.text


def test_bad_patient_id_is_named(client, db):
    login(client, db, "auditor")
    page = client.get("/admin/audit", params={"patient_id": "Smith"})
    assert page.status_code == 422 and "digits only" in page.text and 'aria-invalid="true"' in page.text


def test_agents_cannot_open_it(client, db):
    login(client, db, "agent")
    assert client.get("/admin/audit").status_code == 403

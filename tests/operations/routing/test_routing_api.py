"""Routing over HTTP: explanations visible, reassignment permission-checked and audited, settings as data."""

from __future__ import annotations

from sqlalchemy import select
from tests.helpers.auth import login, token_headers

from pxm.platform.audit.models import AuditEvent


def test_decision_explanation_in_api_and_page(client, db, make_agent, make_patient, open_case):
    agent = make_agent("Rosa Diaz", reasons=("billing",), languages=("es",))
    case = open_case(make_patient("es"))
    db.commit()
    h = token_headers(db, "agent")
    r = client.get("/api/v1/routing/decisions", params={"case_id": case.id}, headers=h)
    assert r.status_code == 200
    [d] = r.json()
    assert d["staff_id"] == agent.id
    assert d["explanation"] == "matched billing + Spanish; 1 of 1 candidate; only candidate (0 open of 5)"
    login(client, db, "agent")
    page = client.get("/operations/routing")
    assert page.status_code == 200
    assert "matched billing + Spanish; 1 of 1 candidate" in page.text and "Rosa Diaz" in page.text
    assert "Reassign a case" not in page.text  # agents cannot reassign


def test_reassign_needs_cases_assign_and_is_audited(client, db, make_agent, make_patient, open_case):
    a = make_agent("First", idle_minutes=40)
    b = make_agent("Second", idle_minutes=1)
    case = open_case(make_patient())
    db.commit()
    assert case.assigned_staff_id == a.id
    body = {"staff_id": b.id, "note": "continuity"}
    denied = client.post(f"/api/v1/routing/cases/{case.id}/reassign", json=body, headers=token_headers(db, "agent"))
    assert denied.status_code == 403
    assert client.post(f"/api/v1/routing/cases/{case.id}/reassign", json=body).status_code == 401
    ok = client.post(f"/api/v1/routing/cases/{case.id}/reassign", json=body,
                     headers=token_headers(db, "cx_manager", "sup-ana"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["explanation"] == "reassigned by sup-ana to Second: continuity"
    ev = db.execute(select(AuditEvent).where(AuditEvent.action == "case.reassign")).scalars().one()
    assert ev.actor == "token:sup-ana" and ev.resource_id == str(case.id)
    missing = client.post("/api/v1/routing/cases/999999/reassign", json=body, headers=token_headers(db, "cx_manager"))
    assert missing.status_code == 404


def test_reassign_through_the_page_form(client, db, make_agent, make_patient, open_case):
    make_agent("First", idle_minutes=40)
    b = make_agent("Second", idle_minutes=1)
    case = open_case(make_patient())
    db.commit()
    headers = login(client, db, "cx_manager", "sup-page")
    page = client.get("/operations/routing")
    assert "Reassign a case" in page.text
    r = client.post("/operations/routing/reassign", data={"case_id": str(case.id), "staff_id": str(b.id),
                                                          "csrf_token": headers["X-CSRF-Token"]},
                    follow_redirects=False)
    assert r.status_code == 303
    after = client.get("/operations/routing")
    assert f"Case {case.id}: reassigned by sup-page to Second." in after.text
    bad = client.post("/operations/routing/reassign", data={"case_id": "x", "staff_id": "",
                                                            "csrf_token": headers["X-CSRF-Token"]})
    assert bad.status_code == 422 and "enter the case number" in bad.text


def test_settings_are_data_and_validated(client, db):
    h = token_headers(db, "cx_manager")
    assert client.get("/api/v1/routing/settings", headers=h).json()["step1_after_seconds"] == 120
    r = client.patch("/api/v1/routing/settings", json={"step1_after_seconds": 60, "step2_after_seconds": 90},
                     headers=h)
    assert r.status_code == 200 and r.json()["step2_after_seconds"] == 90
    bad = client.patch("/api/v1/routing/settings", json={"step1_after_seconds": 600}, headers=h)
    assert bad.status_code == 422 and "step2_after_seconds must be at least" in bad.json()["error"]["message"]
    assert client.patch("/api/v1/routing/settings", json={"step1_after_seconds": 1},
                        headers=token_headers(db, "analyst")).status_code == 403


def test_agents_table_lists_the_desk_staff(client, db, make_agent, make_patient, open_case):
    """The routing page's Agents table shows who takes cases (capacity above 0), not the rest of the staff; a
    nurse appears once she holds an open case (reassigned to her)."""
    make_agent("Desk Dana")
    nurse = make_agent("Nurse Nora", capacity=0, reasons=())
    nurse.job_role = "nurse"
    case = open_case(make_patient())
    db.commit()
    login(client, db, "cx_manager", "sup-roster")

    def roster() -> str:
        page = client.get("/operations/routing")
        assert page.status_code == 200
        return page.text.split('<table id="agents">', 1)[1].split("</table>", 1)[0]

    assert "Desk Dana" in roster() and "Nurse Nora" not in roster()
    r = client.post(f"/api/v1/routing/cases/{case.id}/reassign", json={"staff_id": nurse.id, "note": "clinical"},
                    headers=token_headers(db, "cx_manager", "sup-roster-api"))
    assert r.status_code == 200, r.text
    assert "Nurse Nora" in roster()

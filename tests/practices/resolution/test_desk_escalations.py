"""SLA escalations for the supervisors they name: listed until acknowledged, acknowledged once, with the
supervisor's note in the case's history and the audit log; only a supervisor's role may acknowledge."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from tests.helpers.auth import login, token_headers

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.models import User
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import APIError
from pxm.platform.http.pagination import PageParams
from pxm.practices.resolution import escalations, service, tasks
from pxm.practices.resolution.models import CaseEvent, Escalation


def _breached(db, actor, patient, team: str):  # type: ignore[no-untyped-def]
    """A case past its resolution target, escalated by the SLA check (as the job runs it)."""
    case = service.open_case(db, actor, patient_id=patient.id, reason="billing", team=team, route=False)
    case.resolution_due_at = utcnow() - dt.timedelta(hours=1)
    db.flush()
    out = tasks.check_sla(db, case.id, "resolution", 0)
    assert out["outcome"] == "escalated"
    return case, db.get(Escalation, out["escalation_id"])


def test_escalations_wait_until_a_supervisor_acknowledges_them(db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    from pxm.platform.auth.actor import Actor

    ada = make_agent("esc-ada", team="front", job_role="supervisor")
    bea = make_agent("esc-bea", team="back", job_role="supervisor")
    front_case, front = _breached(db, actor, make_patient(), "front")
    back_case, back = _breached(db, actor, make_patient(), "back")
    assert (front.supervisor_staff_id, back.supervisor_staff_id) == (ada.id, bea.id)
    waiting, total = escalations.list_escalations(db, PageParams(), acknowledged=False)
    assert total == 2 and [e.id for e, _ in waiting] == [back.id, front.id]  # newest first
    mine, _ = escalations.list_escalations(db, PageParams(), supervisor_staff_id=ada.id)
    assert [(e.id, c.id) for e, c in mine] == [(front.id, front_case.id)]
    with pytest.raises(APIError) as denied:
        escalations.acknowledge(db, Actor.for_user(90, "an-agent", "agent"), front.id)
    assert denied.value.status == 403 and front.acknowledged_at is None
    sup = Actor.for_user(91, "esc-ada", "cx_manager")
    done = escalations.acknowledge(db, sup, front.id, note="  called the patient back; reassigned  ")
    assert done.acknowledged_at is not None
    event = db.execute(select(CaseEvent).where(CaseEvent.case_id == front_case.id, CaseEvent.kind == "acknowledge")
                       ).scalar_one()
    assert (event.actor, event.note, event.details) == ("user:esc-ada", "called the patient back; reassigned",
                                                        {"escalation_id": front.id, "target": "resolution"})
    audited = db.execute(select(AuditEvent).where(AuditEvent.action == "case.acknowledge")).scalar_one()
    assert audited.resource_id == str(front_case.id) and audited.actor == "user:esc-ada"
    with pytest.raises(APIError, match="acknowledged already"):
        escalations.acknowledge(db, sup, front.id)
    assert [e.id for e, _ in escalations.list_escalations(db, PageParams(), acknowledged=False)[0]] == [back.id]
    assert [e.id for e, _ in escalations.list_escalations(db, PageParams(), acknowledged=True)[0]] == [front.id]


def test_a_supervisor_with_no_escalations_sees_their_own_empty_list(client, db, actor, make_agent) -> None:  # type: ignore[no-untyped-def]
    cy = make_agent("esc-none-cy", team="side", job_role="supervisor")
    login(client, db, "cx_manager", "esc-none-cy")
    cy.user_id = db.execute(select(User.id).where(User.username == "esc-none-cy")).scalar_one()
    db.commit()
    page = client.get("/practices/resolution/escalations").text
    assert f'<option value="{cy.id}" selected>{cy.display_name}</option>' in page
    assert "No escalation is waiting for acknowledgement." in page


def test_the_escalations_page_and_api(client, db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    ada = make_agent("esc-page-ada", team="front", job_role="supervisor")
    make_agent("esc-page-bea", team="back", job_role="supervisor")
    front_case, front = _breached(db, actor, make_patient(), "front")
    back_case, back = _breached(db, actor, make_patient(), "back")
    db.commit()
    headers = login(client, db, "cx_manager", "esc-page-ada")
    ada.user_id = db.execute(select(User.id).where(User.username == "esc-page-ada")).scalar_one()
    db.commit()
    page = client.get("/practices/resolution/escalations")
    assert page.status_code == 200
    # a supervisor sees their own first: Ada's team's case, not Bea's
    assert f'id="esc-{front.id}"' in page.text and f'id="esc-{back.id}"' not in page.text
    assert "normal → high" in page.text
    assert '<a href="/practices/resolution/escalations">Escalations</a>' in client.get("/").text  # in the menu
    everyone = client.get("/practices/resolution/escalations?supervisor=")
    assert f'id="esc-{back.id}"' in everyone.text and "2 escalations" in everyone.text
    r = client.post(f"/practices/resolution/escalations/{front.id}/acknowledge",
                    data={"note": "spoke to the agent", "csrf_token": headers["X-CSRF-Token"],
                          "back": "/practices/resolution/escalations?state=open&supervisor="},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/practices/resolution/escalations?state=open&supervisor="
    after = client.get(r.headers["location"]).text
    assert f"Escalation of case {front_case.id} acknowledged." in after and f'id="esc-{front.id}"' not in after
    history = client.get(f"/practices/resolution/cases/{front_case.id}").text
    assert re.search(r"acknowledge</strong>: the resolution escalation.*?spoke to the agent", history, re.S)
    again = client.post(f"/practices/resolution/escalations/{front.id}/acknowledge",
                        data={"csrf_token": headers["X-CSRF-Token"], "back": "https://evil.example/"},
                        follow_redirects=False)
    assert again.headers["location"] == "/practices/resolution/escalations"  # only this page is followed back
    assert "acknowledged already" in client.get("/practices/resolution/escalations").text
    bad = client.get("/practices/resolution/escalations?supervisor=abc")
    assert bad.status_code == 422 and "Unknown supervisor" in bad.text
    # the API: agents read, supervisors acknowledge
    listed = client.get("/api/v1/escalations", params={"state": "all"}, headers=token_headers(db, "agent"))
    assert listed.status_code == 200 and {e["id"] for e in listed.json()["items"]} == {front.id, back.id}
    url = f"/api/v1/escalations/{back.id}/acknowledge"
    assert client.post(url, json={}, headers=token_headers(db, "agent")).status_code == 403
    ok = client.post(url, json={"note": "reassigned"}, headers=token_headers(db, "cx_manager"))
    assert ok.status_code == 200 and ok.json()["acknowledged_at"] is not None
    assert client.get("/api/v1/escalations", headers=token_headers(db, "agent")).json()["total"] == 0
    assert client.get("/api/v1/escalations", params={"state": "late"},
                      headers=token_headers(db, "agent")).status_code == 422


def test_a_supervisor_acknowledges_from_the_case_page(client, db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    make_agent("esc-case-sup", team="front", job_role="supervisor")
    case, esc = _breached(db, actor, make_patient(), "front")
    db.commit()
    url = f"/practices/resolution/cases/{case.id}"
    login(client, db, "agent")
    seen_by_agent = client.get(url).text
    assert "Escalation waiting" in seen_by_agent and "/acknowledge" not in seen_by_agent  # agents cannot
    headers = login(client, db, "cx_manager")
    page = client.get(url).text
    assert "Resolution target missed" in page and f'action="/practices/resolution/escalations/{esc.id}/acknowledge"' in page
    r = client.post(f"/practices/resolution/escalations/{esc.id}/acknowledge",
                    data={"note": "called back", "back": url, "csrf_token": headers["X-CSRF-Token"]},
                    follow_redirects=False)
    assert r.headers["location"] == url
    after = client.get(url).text
    assert "Escalation waiting" not in after and "called back" in after

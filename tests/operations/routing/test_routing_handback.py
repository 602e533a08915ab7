"""A supervisor hands an absent agent's open cases back to routing: each goes to another agent who qualifies, or
back to the queue, with its reason kept, its history and the audit log telling who moved it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from tests.helpers.auth import login, token_headers

from pxm.operations.routing import service as routing
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import APIError
from pxm.platform.jobs.models import Job
from pxm.practices.resolution import service as resolution
from pxm.practices.resolution.models import Case, CaseEvent


def _dana_and_her_cases(db, make_agent, make_patient, open_case):  # type: ignore[no-untyped-def]
    """Dana (billing and referrals, Spanish and English) holds three open cases and a resolved one; Sofía takes
    Spanish billing, Ed English billing; nobody else takes referrals."""
    dana = make_agent("Dana", reasons=("billing", "referral"), languages=("es", "en"), idle_minutes=90)
    sofia = make_agent("Sofía", reasons=("billing",), languages=("es",), idle_minutes=5)
    ed = make_agent("Ed", reasons=("billing",), languages=("en",), idle_minutes=5)
    es, en = make_patient("es"), make_patient("en")
    sup = Actor.for_user(98, "sup", "cx_manager")
    cases = {"urgent_es": open_case(es, priority="urgent"), "normal_en": open_case(en),
             "referral_es": open_case(es, "referral"), "done": open_case(en)}
    for c in cases.values():
        if c.assigned_staff_id != dana.id:
            routing.reassign(db, sup, c.id, dana.id)
    resolution.transition(db, sup, cases["urgent_es"].id, "in_progress")
    resolution.transition(db, sup, cases["referral_es"].id, "waiting_on_patient")
    resolution.transition(db, sup, cases["done"].id, "resolved", resolution_code="answered")
    db.flush()
    return dana, sofia, ed, cases, sup


def test_each_open_case_goes_to_an_agent_who_qualifies_or_back_to_the_queue(db, make_agent, make_patient,
                                                                           open_case) -> None:  # type: ignore[no-untyped-def]
    dana, sofia, ed, cases, sup = _dana_and_her_cases(db, make_agent, make_patient, open_case)
    before = db.execute(select(func.max(AuditEvent.seq))).scalar_one()
    done = routing.hand_back(db, sup, dana.id, note="went home ill")
    assert (done["cases"], done["reassigned"], done["queued"]) == (3, 2, 1)
    assert [m["case_id"] for m in done["moves"]][0] == cases["urgent_es"].id  # most urgent first
    db.expire_all()
    urgent, normal, referral, resolved = (db.get(Case, cases[k].id) for k in
                                          ("urgent_es", "normal_en", "referral_es", "done"))
    # Dana is left out although she is available and the least busy now: the cases go to the others
    assert (urgent.assigned_staff_id, urgent.status) == (sofia.id, "assigned")  # was in progress with Dana
    assert (normal.assigned_staff_id, normal.status) == (ed.id, "assigned")
    assert (referral.assigned_staff_id, referral.status) == (None, "waiting_on_patient")  # nobody else does referrals
    assert resolved.assigned_staff_id == dana.id  # a resolved case stays hers
    moved = routing.decisions_for_case(db, urgent.id)[-1]
    assert (moved.kind, moved.previous_staff_id, moved.staff_id) == ("handback", dana.id, sofia.id)
    assert moved.explanation.startswith("handed back from Dana by sup (went home ill); matched billing + Spanish")
    waits = routing.decisions_for_case(db, referral.id)[-1]
    assert (waits.kind, waits.previous_staff_id, waits.staff_id) == ("queued", dana.id, None)
    assert "no available agent for referral + Spanish" in waits.explanation
    back = db.execute(select(CaseEvent).where(CaseEvent.case_id == referral.id, CaseEvent.kind == "unassign")
                      ).scalar_one()
    assert back.details == {"staff_id": dana.id} and back.actor == "user:sup"
    assert [c.id for c in routing.queued_cases(db, 10)] == [referral.id]
    assert db.execute(select(Job).where(Job.kind == routing.SWEEP_KIND)).scalars().first() is not None
    summary = db.execute(select(AuditEvent).where(AuditEvent.action == "staff.cases_handed_back")).scalar_one()
    assert summary.details == {"staff_id": dana.id, "cases": 3, "reassigned": 2, "queued": 1}
    audited = db.execute(select(AuditEvent.action, AuditEvent.resource_id).where(AuditEvent.seq > before)
                         .order_by(AuditEvent.seq)).all()
    assert sorted(audited) == sorted([("case.assign", str(urgent.id)), ("case.assign", str(normal.id)),
                                      ("case.unassign", str(referral.id)), ("staff.cases_handed_back", str(dana.id))])
    # handing back again finds nothing left to move
    assert routing.hand_back(db, sup, dana.id)["cases"] == 0


def test_an_agent_cannot_hand_back_cases(db, make_agent, make_patient, open_case) -> None:  # type: ignore[no-untyped-def]
    dana, _, _, cases, _ = _dana_and_her_cases(db, make_agent, make_patient, open_case)
    with pytest.raises(APIError) as err:
        routing.hand_back(db, Actor.for_user(99, "agent-x", "agent"), dana.id)
    assert err.value.status == 403 and "cases:assign" in err.value.message
    assert db.get(Case, cases["normal_en"].id).assigned_staff_id == dana.id
    with pytest.raises(APIError) as missing:
        routing.hand_back(db, Actor.for_user(98, "sup", "cx_manager"), 987654)
    assert missing.value.status == 404


def test_hand_back_over_the_api_and_the_routing_page(client, db, make_agent, make_patient,
                                                     open_case) -> None:  # type: ignore[no-untyped-def]
    dana, sofia, _, cases, _ = _dana_and_her_cases(db, make_agent, make_patient, open_case)
    db.commit()
    url = f"/api/v1/routing/agents/{dana.id}/hand-back"
    assert client.post(url, json={}, headers=token_headers(db, "agent")).status_code == 403
    assert client.post(url, json={"note": "x" * 301}, headers=token_headers(db, "cx_manager")).status_code == 422
    assert db.get(Case, cases["urgent_es"].id).assigned_staff_id == dana.id  # nothing moved by the refusals
    headers = login(client, db, "cx_manager", "sup-page")
    page = client.get("/operations/routing")
    assert f'<option value="{dana.id}">Dana (available, 3 open)</option>' in page.text
    r = client.post("/operations/routing/hand-back", data={"staff_id": str(dana.id), "note": "off sick",
                                                           "csrf_token": headers["X-CSRF-Token"]},
                    follow_redirects=False)
    assert r.status_code == 303
    after = client.get("/operations/routing")
    assert "Dana&#39;s 3 open cases handed back: 2 to other agents, 1 waiting in the queue." in after.text
    db.expire_all()
    assert db.get(Case, cases["urgent_es"].id).assigned_staff_id == sofia.id
    history = client.get(f"/practices/resolution/cases/{cases['referral_es'].id}").text
    assert "from Dana, back to the queue" in history
    api = client.post(url, json={}, headers=token_headers(db, "cx_manager", "sup-api"))
    assert api.status_code == 200 and api.json()["cases"] == 0 and api.json()["agent"] == "Dana"
    bad = client.post("/operations/routing/hand-back", data={"staff_id": "", "csrf_token": headers["X-CSRF-Token"]})
    assert bad.status_code == 422 and "pick the agent" in bad.text


def test_a_deactivated_agents_cases_can_be_handed_back_from_the_page(client, db, make_agent, make_patient,
                                                                     open_case) -> None:  # type: ignore[no-untyped-def]
    """Routing no longer sees a deactivated staff member, but their open cases are still theirs: the page offers
    them for hand-back, and nobody else's cases move."""
    dana, sofia, _, cases, _ = _dana_and_her_cases(db, make_agent, make_patient, open_case)
    dana.active = False
    db.commit()
    headers = login(client, db, "cx_manager", "sup-page")
    page = client.get("/operations/routing")
    assert f'<option value="{dana.id}">Dana (deactivated, 3 open)</option>' in page.text
    r = client.post("/operations/routing/hand-back", data={"staff_id": str(dana.id),
                                                           "csrf_token": headers["X-CSRF-Token"]},
                    follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Case, cases["urgent_es"].id).assigned_staff_id == sofia.id
    assert "(deactivated," not in client.get("/operations/routing").text


"""An agent takes a case waiting in the queue: it becomes theirs, with a ``take`` decision and an audited
assignment; a case someone owns, a closed one, or a sign-in without a staff profile is refused with a reason."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from tests.helpers.auth import login, token_headers

from pxm.operations.routing import service as routing
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.models import User
from pxm.platform.http.errors import APIError
from pxm.practices.resolution import service as resolution
from pxm.practices.resolution.models import Case, CaseEvent


def test_an_agent_takes_a_waiting_case_and_nothing_else(db, make_agent, make_patient, open_case) -> None:  # type: ignore[no-untyped-def]
    dana = make_agent("Dana", reasons=("referral",), team="front")
    ed = make_agent("Ed")
    waiting = open_case(make_patient(), route=False)
    agent = Actor.for_user(97, "dana", "agent")
    row = routing.take(db, agent, waiting.id, dana)
    assert (row.kind, row.staff_id, row.basis, row.explanation) == ("take", dana.id, "agent",
                                                                     "taken from the queue by Dana")
    case = db.get(Case, waiting.id)
    assert (case.assigned_staff_id, case.status, case.team) == (dana.id, "assigned", "front")
    event = db.execute(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "assign")).scalar_one()
    assert event.actor == "user:dana" and event.details == {"staff_id": dana.id}
    audited = db.execute(select(AuditEvent).where(AuditEvent.action == "case.assign",
                                                  AuditEvent.resource_id == str(case.id))).scalar_one()
    assert audited.actor == "user:dana"
    with pytest.raises(APIError, match="already yours"):
        routing.take(db, agent, case.id, dana)
    with pytest.raises(APIError, match="already assigned to Dana; a supervisor can reassign it") as taken:
        routing.take(db, Actor.for_user(96, "ed", "agent"), case.id, ed)
    assert taken.value.status == 409
    done = open_case(make_patient(), route=False)
    resolution.transition(db, agent, done.id, "resolved", resolution_code="answered")
    with pytest.raises(APIError, match="is resolved; only open cases can be taken"):
        routing.take(db, agent, done.id, ed)
    with pytest.raises(APIError) as denied:
        routing.take(db, Actor.for_user(95, "ana", "analyst"), open_case(make_patient(), route=False).id, ed)
    assert denied.value.status == 403 and "cases:write" in denied.value.message


def test_take_from_the_case_page_and_the_api(client, db, make_agent, make_patient, open_case) -> None:  # type: ignore[no-untyped-def]
    first, second = open_case(make_patient(), route=False), open_case(make_patient(), route=False)
    db.commit()
    headers = login(client, db, "agent", "take-page")
    page = client.get(f"/practices/resolution/cases/{first.id}")
    assert "Take this case" not in page.text  # this sign-in has no staff profile yet
    refused = client.post(f"/practices/resolution/cases/{first.id}/take",
                          data={"csrf_token": headers["X-CSRF-Token"]})
    assert "not linked to a staff profile" in refused.text and db.get(Case, first.id).assigned_staff_id is None
    me = make_agent("Page Agent")
    me.user_id = db.execute(select(User.id).where(User.username == "take-page")).scalar_one()
    db.commit()
    page = client.get(f"/practices/resolution/cases/{first.id}")
    assert 'id="take-case"' in page.text
    r = client.post(f"/practices/resolution/cases/{first.id}/take", data={"csrf_token": headers["X-CSRF-Token"]},
                    follow_redirects=False)
    assert r.status_code == 303
    after = client.get(r.headers["location"]).text
    assert "The case is yours." in after and 'id="take-case"' not in after
    assert re.search(r"<dt>Assigned to</dt><dd>Page Agent", after)
    assert "taken from the queue by Page Agent" in after  # the assign event's note in the history
    # over the API: a token whose user has no staff profile is told why; one that has takes the case
    url = f"/api/v1/routing/cases/{second.id}/take"
    unlinked = client.post(url, headers=token_headers(db, "agent"))
    assert unlinked.status_code == 409 and "staff profile" in unlinked.json()["error"]["message"]
    api_headers = token_headers(db, "agent", "take-api")
    other = make_agent("Api Agent")
    other.user_id = db.execute(select(User.id).where(User.username == "take-api")).scalar_one()
    db.commit()
    ok = client.post(url, headers=api_headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["kind"] == "take" and ok.json()["staff_id"] == other.id
    again = client.post(url, headers=api_headers)
    assert again.status_code == 409 and "already yours" in again.json()["error"]["message"]


def test_an_agent_takes_a_case_from_the_workspace_list(client, db, make_agent, make_patient, open_case) -> None:  # type: ignore[no-untyped-def]
    waiting = open_case(make_patient(), route=False)
    db.commit()
    headers = login(client, db, "agent", "take-list")
    assert "Take<span" not in client.get("/practices/resolution").text  # no staff profile: nothing to take with
    me = make_agent("List Agent")
    me.user_id = db.execute(select(User.id).where(User.username == "take-list")).scalar_one()
    db.commit()
    page = client.get("/practices/resolution").text
    form = f'action="/practices/resolution/cases/{waiting.id}/take"'
    assert form in page
    r = client.post(f"/practices/resolution/cases/{waiting.id}/take", data={"csrf_token": headers["X-CSRF-Token"]})
    assert r.url.path == f"/practices/resolution/cases/{waiting.id}" and "The case is yours." in r.text
    after = client.get("/practices/resolution").text
    assert form not in after and f'href="/practices/resolution/cases/{waiting.id}"' in after  # now in My queue


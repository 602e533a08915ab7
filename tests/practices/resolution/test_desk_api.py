"""Service-desk API: permissions, idempotent contact creation, case lifecycle over HTTP, metrics."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from tests.helpers.auth import token_headers
from tests.helpers.batches import pipelines_sent

from pxm.practices.resolution import service
from pxm.practices.resolution.models import Contact


def _contact_body(patient_id: int, **extra):  # type: ignore[no-untyped-def]
    return {"patient_id": patient_id, "channel": "phone", "direction": "inbound", "reason": "billing",
            "started_at": "2025-03-03T14:00:00Z", "ended_at": "2025-03-03T14:05:00Z", **extra}


def test_permissions(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    db.commit()
    assert client.get("/api/v1/cases").status_code == 401
    analyst = token_headers(db, "analyst")
    assert client.get("/api/v1/cases", headers=analyst).status_code == 403
    assert client.post("/api/v1/contacts", json=_contact_body(p.id), headers=analyst).status_code == 403
    assert client.get("/api/v1/metrics/fcr", headers=analyst).status_code == 200
    agent = token_headers(db, "agent")
    assert client.get("/api/v1/metrics/fcr", headers=agent).status_code == 403
    assert client.get("/api/v1/cases", headers=agent).status_code == 200


def test_contact_idempotency_and_case_flow(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    db.commit()
    h = token_headers(db, "agent")
    key = {**h, "Idempotency-Key": "call-123"}
    r1 = client.post("/api/v1/contacts", json=_contact_body(p.id), headers=key)
    assert r1.status_code == 201, r1.text
    r2 = client.post("/api/v1/contacts", json=_contact_body(p.id), headers=key)
    assert r2.status_code == 201 and r2.json() == r1.json() and r2.headers["Idempotent-Replayed"] == "true"
    assert db.execute(select(func.count()).select_from(Contact).where(Contact.patient_id == p.id)).scalar_one() == 1
    r3 = client.post("/api/v1/contacts", json=_contact_body(p.id, channel="chat"), headers=key)
    assert r3.status_code == 422
    case_id = r1.json()["case_id"]
    # a second contact about the same reason joins the open case
    r4 = client.post("/api/v1/contacts", json=_contact_body(p.id, started_at="2025-03-03T15:00:00Z",
                                                            ended_at=None), headers=h)
    assert r4.json()["case_id"] == case_id
    bad = client.post(f"/api/v1/cases/{case_id}/transition", json={"to_status": "resolved"}, headers=h)
    assert bad.status_code == 422 and "resolution_code" in bad.json()["error"]["message"]
    ok = client.post(f"/api/v1/cases/{case_id}/transition",
                     json={"to_status": "resolved", "resolution_code": "answered"}, headers=h)
    assert ok.status_code == 200 and ok.json()["status"] == "resolved"
    assert client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "called back"}, headers=h).status_code == 201
    assert client.patch(f"/api/v1/cases/{case_id}", json={"priority": "high"}, headers=h).json()["priority"] == "high"
    detail = client.get(f"/api/v1/cases/{case_id}", headers=h).json()
    assert len(detail["contacts"]) == 2 and "note" in [e["kind"] for e in detail["events"]]
    listed = client.get("/api/v1/cases", params={"status": "resolved", "patient_id": p.id}, headers=h).json()
    assert [c["id"] for c in listed["items"]] == [case_id] and listed["total"] == 1
    assert client.get("/api/v1/cases/999999", headers=h).status_code == 404
    wrong = client.post("/api/v1/contacts", json=_contact_body(p.id, reason="parking"), headers=h)
    assert wrong.status_code == 422 and "reason must be one of" in wrong.json()["error"]["message"]


def test_metrics_endpoints(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    db.commit()
    h = token_headers(db, "agent")
    client.post("/api/v1/contacts", json=_contact_body(p.id, resolved=True), headers=h)
    m = token_headers(db, "cx_manager")
    r = client.get("/api/v1/metrics/fcr", params={"as_of": "2025-04-01T00:00:00Z", "by": "channel"}, headers=m)
    body = r.json()
    assert body["fcr_rate"] == 1.0 and body["groups"][0]["key"] == "phone"
    assert client.get("/api/v1/metrics/fcr", params={"by": "weather"}, headers=m).status_code == 422
    c = client.get("/api/v1/metrics/contacts", params={"as_of": "2025-04-01T00:00:00Z"}, headers=m).json()
    assert c["contacts"] == 1 and c["aht_seconds"] == 300.0


def test_contact_body_errors_name_the_field_and_write_nothing(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    db.commit()
    h = token_headers(db, "agent")
    before = db.execute(select(func.count()).select_from(Contact)).scalar_one()
    missing = client.post("/api/v1/contacts", json={"patient_id": p.id, "channel": "phone"}, headers=h)
    assert missing.status_code == 422
    fields = {d["field"] for d in missing.json()["error"]["details"]}
    assert {"direction", "reason", "started_at"} <= fields
    bad_channel = client.post("/api/v1/contacts", json=_contact_body(p.id, channel="fax"), headers=h)
    assert bad_channel.status_code == 422 and bad_channel.json()["error"]["details"][0]["field"] == "channel"
    not_json = client.post("/api/v1/contacts", content=b"{not json", headers={**h, "Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "invalid_request"
    # an unknown token is refused before the body is looked at
    stranger = client.post("/api/v1/contacts", content=b"{not json",
                           headers={"Authorization": "Bearer pxm_nope", "Content-Type": "application/json"})
    assert stranger.status_code == 401
    assert db.execute(select(func.count()).select_from(Contact)).scalar_one() == before


def test_a_contact_reads_its_patient_in_the_round_trip_of_its_token_on_postgresql(client, db, make_patient,  # type: ignore[no-untyped-def]
                                                                                   monkeypatch) -> None:
    """On PostgreSQL the contact's first lookup (its patient, the case it joins, reserved ids) is sent with the
    token lookup of the request's authentication; it is used only once that has passed. SQLite has no round
    trips to save: there each runs on its own, with the same answers."""
    pg = db.get_bind().dialect.name == "postgresql"
    p, other = make_patient(), make_patient()
    db.commit()
    h = token_headers(db, "agent")
    assert client.post("/api/v1/contacts", json=_contact_body(other.id), headers=h).status_code == 201
    sent = pipelines_sent(monkeypatch)
    r = client.post("/api/v1/contacts", json=_contact_body(p.id), headers=h)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json" and r.json()["patient_id"] == p.id
    assert r.json()["started_at"] == "2025-03-03T14:00:00Z" and r.json()["agent_id"] is None
    if pg:
        assert "FROM api_tokens" in sent[0][0] and "FROM patients" in sent[0][1] and len(sent[0]) == 2
        assert sum("FROM patients" in sql for batch in sent for sql in batch) == 1  # read once, not again
    else:
        assert sent == []
    assert client.get(f"/api/v1/cases/{r.json()['case_id']}", headers=h).json()["patient_id"] == p.id
    # the repeat contact joins that case, found in the same round trip
    sent.clear()
    again = client.post("/api/v1/contacts", json=_contact_body(p.id, started_at="2025-03-03T15:00:00Z",
                                                                ended_at=None), headers=h)
    assert again.json()["case_id"] == r.json()["case_id"]
    assert not pg or ("FROM api_tokens" in sent[0][0] and "FROM patients" in sent[0][1])
    # with an Idempotency-Key the key's record is looked up first: the patient is read after it, once
    sent.clear()
    keyed = client.post("/api/v1/contacts", json=_contact_body(other.id, reason="referral"),
                        headers={**h, "Idempotency-Key": "read-ahead-1"})
    assert keyed.status_code == 201
    assert not pg or sum("FROM patients" in sql for batch in sent for sql in batch) == 1
    # an unknown patient is still a 404, and a token that fails is a 401 whatever was read with it
    assert client.post("/api/v1/contacts", json=_contact_body(987654), headers=h).status_code == 404
    before = db.execute(select(func.count()).select_from(Contact)).scalar_one()
    stranger = client.post("/api/v1/contacts", json=_contact_body(p.id), headers={"Authorization": "Bearer pxm_nope"})
    assert stranger.status_code == 401
    assert not pg or "FROM patients" in sent[-1][-1]
    assert db.execute(select(func.count()).select_from(Contact)).scalar_one() == before


def test_contact_creation_documents_its_credentials_and_idempotency_key(client, app, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    """The route reads its credentials and its Idempotency-Key itself (one flat dependency); the OpenAPI
    document still shows both, as for a route that declares them, and the key's limit is checked after
    authentication."""
    op = app.openapi()["paths"]["/api/v1/contacts"]["post"]
    assert op["security"] == [{"HTTPBearer": []}, {"APIKeyCookie": []}]
    assert [(p["name"], p["in"], p["schema"]["anyOf"][0]["maxLength"]) for p in op["parameters"]] == \
        [("Idempotency-Key", "header", 200)]
    assert "patient_id" in op["requestBody"]["content"]["application/json"]["schema"]["properties"]
    p = make_patient()
    db.commit()
    long_key = {"Idempotency-Key": "k" * 201}
    assert client.post("/api/v1/contacts", json=_contact_body(p.id), headers=long_key).status_code == 401
    h = token_headers(db, "agent")
    r = client.post("/api/v1/contacts", json=_contact_body(p.id), headers={**h, **long_key})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "header.Idempotency-Key"  # as FastAPI names it
    ok = client.post("/api/v1/contacts", json=_contact_body(p.id), headers={**h, "Idempotency-Key": "k" * 200})
    assert ok.status_code == 201


def test_the_cases_list_filters_the_queue_nobody_is_assigned_to(client, db, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    from pxm.platform.auth.actor import Actor

    actor = Actor.system("test")
    p, ann = make_patient(), make_agent("queue-ann")
    waiting = service.open_case(db, actor, patient_id=p.id, reason="billing", route=False)
    taken = service.open_case(db, actor, patient_id=p.id, reason="referral", route=False)
    service.assign(db, actor, taken.id, ann.id, reason_text="test")
    db.commit()
    h = token_headers(db, "agent")
    listed = client.get("/api/v1/cases", params={"unassigned": "true", "patient_id": p.id}, headers=h).json()
    assert [c["id"] for c in listed["items"]] == [waiting.id] and listed["total"] == 1
    both = client.get("/api/v1/cases", params={"unassigned": "true", "assigned_staff_id": ann.id}, headers=h)
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]


def test_the_cases_list_orders_by_due_time_when_asked(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    """``order=due`` puts the soonest resolution due first (an urgent case opened later before a low one opened
    earlier), as the Cases page does; the default is newest opened first; an unknown order is named."""
    from pxm.platform.auth.actor import Actor

    actor, p = Actor.system("test"), make_patient()
    t0 = dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC)
    low = service.open_case(db, actor, patient_id=p.id, reason="billing", priority="low", route=False, opened_at=t0)
    urgent = service.open_case(db, actor, patient_id=p.id, reason="billing", priority="urgent", route=False,
                               opened_at=t0 + dt.timedelta(hours=1))
    db.commit()
    assert urgent.resolution_due_at < low.resolution_due_at
    h = token_headers(db, "agent")

    def ids(**params: str) -> list[int]:
        r = client.get("/api/v1/cases", params={"patient_id": p.id, **params}, headers=h)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert ids() == [urgent.id, low.id] == ids(order="due")
    later = service.open_case(db, actor, patient_id=p.id, reason="billing", priority="low", route=False,
                              opened_at=t0 + dt.timedelta(hours=2))
    db.commit()
    assert ids() == [later.id, urgent.id, low.id] and ids(order="due") == [urgent.id, low.id, later.id]
    bad = client.get("/api/v1/cases", params={"order": "oldest"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "query.order"

"""Service desk settings API (/api/v1/desk): validation naming the field, audit before/after, permissions, and
changed policies, calendars and reasons taking effect for the next case (and only for new cases)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from tests.helpers.auth import login, token_headers

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.people import service as people
from pxm.platform.people.schemas import PatientCreate
from pxm.practices.feedback.loop import service as loop
from pxm.practices.resolution import service, settings
from pxm.practices.resolution.models import BusinessCalendar, Case, SlaPolicy

API = "/api/v1/desk"
MONDAY_10 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)


def _fields(resp) -> set[str]:  # type: ignore[no-untyped-def]
    body = resp.json()
    assert set(body) == {"error"}, body
    return {d["field"] for d in body["error"]["details"]}


def _audit(db, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(db.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars())


def _contact(client, headers, patient_id: int, reason: str, started: dt.datetime):  # type: ignore[no-untyped-def]
    """Log a contact over the API: with no open case for the reason, it opens a new case. Returns the case."""
    r = client.post("/api/v1/contacts", headers=headers, json={
        "patient_id": patient_id, "channel": "email", "direction": "inbound", "reason": reason,
        "started_at": started.isoformat()})
    assert r.status_code == 201, r.text
    case = client.get(f"/api/v1/cases/{r.json()['case_id']}", headers=headers)
    assert case.status_code == 200
    return case.json()


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_policy_validation_names_each_field(client, db) -> None:  # type: ignore[no-untyped-def]
    admin = token_headers(db, "admin")
    base = {"reason": "billing", "priority": "high", "first_response_minutes": 60, "resolution_minutes": 480}
    r = client.post(f"{API}/sla-policies", headers=admin, json={**base, "first_response_minutes": 0,
                                                                 "resolution_minutes": -5})
    assert r.status_code == 422 and _fields(r) == {"first_response_minutes", "resolution_minutes"}
    r = client.post(f"{API}/sla-policies", headers=admin, json={**base, "resolution_minutes": 30})
    assert r.status_code == 422 and _fields(r) == {"resolution_minutes"}
    assert "at least the first-response target (60 minutes)" in r.json()["error"]["message"]
    r = client.post(f"{API}/sla-policies", headers=admin, json={**base, "reason": "astrology", "priority": "asap"})
    assert r.status_code == 422 and _fields(r) == {"reason", "priority"}
    r = client.post(f"{API}/sla-policies", headers=admin, json={**base, "first_response_minutes": 1.5})
    assert r.status_code == 422 and _fields(r) == {"first_response_minutes"}
    r = client.post(f"{API}/sla-policies", headers=admin, json={**base, "resolution_minutes": 10 ** 9})
    assert r.status_code == 422 and _fields(r) == {"resolution_minutes"}
    # (any reason, high) is seeded: NULLs never collide in the unique constraint, the service catches it
    seeded = db.execute(select(SlaPolicy).where(SlaPolicy.reason.is_(None), SlaPolicy.priority == "high")).scalar_one()
    r = client.post(f"{API}/sla-policies", headers=admin, json={**base, "reason": None})
    assert r.status_code == 409 and _fields(r) == {"reason", "priority"}
    assert f"already exists (#{seeded.id})" in r.json()["error"]["message"]
    assert not _audit(db, "sla_policy.create")  # nothing refused was written


def test_policy_create_update_deactivate_are_audited(client, db) -> None:  # type: ignore[no-untyped-def]
    admin = token_headers(db, "admin")
    r = client.post(f"{API}/sla-policies", headers=admin, json={
        "reason": "billing", "priority": "high", "first_response_minutes": 45, "resolution_minutes": 300})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["lookup_step"] == 1 and created["active"] and created["business_hours"]
    pid = created["id"]
    r = client.patch(f"{API}/sla-policies/{pid}", headers=admin, json={"resolution_minutes": 360})
    assert r.status_code == 200 and r.json()["resolution_minutes"] == 360
    r = client.patch(f"{API}/sla-policies/{pid}", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    listed = client.get(f"{API}/sla-policies", headers=admin).json()
    steps = [p["lookup_step"] for p in listed]
    assert steps == sorted(steps) and steps[-1] == 4  # most specific first, the default last
    assert next(p for p in listed if p["id"] == pid)["active"] is False

    [create] = _audit(db, "sla_policy.create")
    assert create.resource_id == str(pid) and create.details["before"] is None
    assert create.details["after"]["first_response_minutes"] == 45
    first, second = _audit(db, "sla_policy.update")
    assert first.details == {"changed": ["resolution_minutes"], "before": {"resolution_minutes": 300},
                             "after": {"resolution_minutes": 360}}
    assert second.details["before"] == {"active": True} and second.details["after"] == {"active": False}
    assert create.actor.startswith("token:admin")


def test_default_policy_cannot_be_deactivated_or_narrowed(client, db) -> None:  # type: ignore[no-untyped-def]
    admin = token_headers(db, "admin")
    default = db.execute(select(SlaPolicy).where(SlaPolicy.reason.is_(None), SlaPolicy.priority.is_(None))).scalar_one()
    r = client.patch(f"{API}/sla-policies/{default.id}", headers=admin, json={"active": False})
    assert r.status_code == 422 and _fields(r) == {"active"}
    r = client.patch(f"{API}/sla-policies/{default.id}", headers=admin, json={"priority": "normal"})
    assert r.status_code == 422 and _fields(r) == {"priority"}
    r = client.patch(f"{API}/sla-policies/{default.id}", headers=admin, json={})
    assert r.status_code == 422


def test_changed_policy_is_used_for_the_next_case_only(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    """Also guards any in-process cache of policies: the change must reach the very next case."""
    admin = token_headers(db, "admin")
    agent = token_headers(db, "agent")
    p1, p2, p3 = make_patient(), make_patient(), make_patient()
    db.commit()
    r = client.post(f"{API}/sla-policies", headers=admin, json={
        "reason": "billing", "priority": "normal", "first_response_minutes": 15, "resolution_minutes": 45,
        "business_hours": False})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    first = _contact(client, agent, p1.id, "billing", MONDAY_10)
    assert _at(first["first_response_due_at"]) == MONDAY_10 + dt.timedelta(minutes=15)
    assert _at(first["resolution_due_at"]) == MONDAY_10 + dt.timedelta(minutes=45)

    r = client.patch(f"{API}/sla-policies/{pid}", headers=admin, json={"first_response_minutes": 30,
                                                                       "resolution_minutes": 90})
    assert r.status_code == 200
    second = _contact(client, agent, p2.id, "billing", MONDAY_10)
    assert _at(second["first_response_due_at"]) == MONDAY_10 + dt.timedelta(minutes=30)
    assert _at(second["resolution_due_at"]) == MONDAY_10 + dt.timedelta(minutes=90)
    again = client.get(f"/api/v1/cases/{first['id']}", headers=agent).json()  # existing due times are kept
    assert _at(again["first_response_due_at"]) == MONDAY_10 + dt.timedelta(minutes=15)

    # deactivated: the next case falls through to the seeded default (4 business hours, Mon-Fri 08-18 New York)
    assert client.patch(f"{API}/sla-policies/{pid}", headers=admin, json={"active": False}).status_code == 200
    third = _contact(client, agent, p3.id, "billing", MONDAY_10)
    # 10:00 UTC is 05:00 in New York (EST): the clock starts at 08:00 local = 13:00 UTC, plus 4 hours
    assert _at(third["first_response_due_at"]) == dt.datetime(2025, 3, 3, 17, 0, tzinfo=dt.UTC)


def test_changed_calendar_is_used_for_the_next_case(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    admin = token_headers(db, "admin")
    agent = token_headers(db, "agent")
    p1 = make_patient()
    db.commit()
    default = db.execute(select(BusinessCalendar).where(BusinessCalendar.facility_id.is_(None))).scalar_one()
    r = client.patch(f"{API}/calendars/{default.id}", headers=admin, json={
        "timezone": "UTC", "hours": {"1": ["09:00", "11:00"]},
        "holidays": ["2025-03-10", "2025-12-25", "2025-03-10"]})
    assert r.status_code == 200, r.text
    assert r.json()["holidays"] == ["2025-03-10", "2025-12-25"] and r.json()["hours"] == {"1": ["09:00", "11:00"]}
    # default policy: 240 business minutes. Mondays 09-11 UTC only, 10 March a holiday:
    # 3 Mar 10-11 (60) + 17 Mar 09-11 (120) + 24 Mar 09-10 (60) -> due 24 March 10:00 UTC
    case = _contact(client, agent, p1.id, "billing", MONDAY_10)
    assert _at(case["first_response_due_at"]) == dt.datetime(2025, 3, 24, 10, 0, tzinfo=dt.UTC)
    [event] = _audit(db, "business_calendar.update")
    assert event.details["before"]["timezone"] == "America/New_York" and event.details["after"]["timezone"] == "UTC"
    assert set(event.details["changed"]) == {"timezone", "hours", "holidays"}


def test_calendar_validation_names_each_field(client, db) -> None:  # type: ignore[no-untyped-def]
    admin = token_headers(db, "admin")
    cal_id = db.execute(select(BusinessCalendar.id).where(BusinessCalendar.facility_id.is_(None))).scalar_one()
    url = f"{API}/calendars/{cal_id}"
    r = client.patch(url, headers=admin, json={
        "timezone": "Mars/Olympus_Mons", "name": " ",
        "hours": {"1": ["17:00", "08:00"], "2": ["8am", "17:00"], "8": ["08:00", "17:00"], "3": ["08:00"]},
        "holidays": ["2025-02-30", "25/12/2025", 20251225]})
    assert r.status_code == 422
    assert _fields(r) == {"timezone", "name", "hours.1", "hours.2", "hours.8", "hours.3", "holidays"}
    message = r.json()["error"]["message"]
    assert "Monday: closing time (08:00) must be after opening time (17:00)" in message
    assert "'2025-02-30' is not a date" in message
    r = client.patch(url, headers=admin, json={"hours": {}})
    assert r.status_code == 422 and _fields(r) == {"hours"} and "no open day" in r.json()["error"]["message"]
    # one open hour a week cannot count the longest seeded business-hours target (3000 minutes) in ten years
    r = client.patch(url, headers=admin, json={"hours": {"7": ["09:00", "09:01"]}})
    assert r.status_code == 422 and _fields(r) == {"hours"} and "too few open hours" in r.json()["error"]["message"]
    assert not _audit(db, "business_calendar.update")
    unchanged = client.get(f"{API}/calendars", headers=admin).json()[0]
    assert unchanged["timezone"] == "America/New_York" and unchanged["hours"]["1"] == ["08:00", "18:00"]


def test_reasons_add_rename_deactivate_delete(client, db, make_patient) -> None:  # type: ignore[no-untyped-def]
    admin = token_headers(db, "admin")
    agent = token_headers(db, "agent")
    p = make_patient()
    db.commit()
    for bad in ("Lab Results", "x", "1abc", "a" * 41, "lab-results"):
        r = client.post(f"{API}/reasons", headers=admin, json={"code": bad, "label": "Lab results"})
        assert r.status_code == 422 and _fields(r) == {"code"}, bad
    r = client.post(f"{API}/reasons", headers=admin, json={"code": "lab_results", "label": "  "})
    assert r.status_code == 422 and _fields(r) == {"label"}
    r = client.post(f"{API}/reasons", headers=admin, json={"code": "lab_results", "label": "Lab results"})
    assert r.status_code == 201 and r.json()["active"] is True
    assert client.post(f"{API}/reasons", headers=admin,
                       json={"code": "lab_results", "label": "Again"}).status_code == 409
    assert [x["code"] for x in client.get(f"{API}/reasons", headers=agent).json()][-1] == "lab_results"
    # usable at once for a new contact, and for a policy
    case = _contact(client, agent, p.id, "lab_results", MONDAY_10)
    assert case["reason"] == "lab_results"
    r = client.patch(f"{API}/reasons/lab_results", headers=admin, json={"label": "Lab & imaging results"})
    assert r.status_code == 200 and r.json()["label"] == "Lab & imaging results"
    r = client.delete(f"{API}/reasons/lab_results", headers=admin)
    assert r.status_code == 409 and "deactivate it instead" in r.json()["error"]["message"]
    assert r.json()["error"]["details"]["in_use"] == {"cases": 1, "contacts": 1}
    assert client.patch(f"{API}/reasons/lab_results", headers=admin, json={"active": False}).status_code == 200
    refused = client.post("/api/v1/contacts", headers=agent, json={
        "patient_id": p.id, "channel": "email", "direction": "inbound", "reason": "lab_results",
        "started_at": MONDAY_10.isoformat()})
    assert refused.status_code == 422 and "reason must be one of" in refused.json()["error"]["message"]
    r = client.post(f"{API}/sla-policies", headers=admin, json={
        "reason": "lab_results", "first_response_minutes": 60, "resolution_minutes": 60})
    assert r.status_code == 422 and _fields(r) == {"reason"} and "inactive" in r.json()["error"]["message"]
    # an unused reason (a typo just added) can be deleted
    assert client.post(f"{API}/reasons", headers=admin, json={"code": "typo_reason", "label": "Typo"}).status_code == 201
    assert client.delete(f"{API}/reasons/typo_reason", headers=admin).status_code == 204
    assert client.delete(f"{API}/reasons/typo_reason", headers=admin).status_code == 404
    actions = [e.action for e in db.execute(select(AuditEvent).where(
        AuditEvent.resource_type == "contact_reason").order_by(AuditEvent.seq)).scalars()]
    assert actions == ["contact_reason.create", "contact_reason.update", "contact_reason.update",
                       "contact_reason.create", "contact_reason.delete"]
    [delete] = _audit(db, "contact_reason.delete")
    assert delete.resource_id == "typo_reason" and delete.details["before"]["label"] == "Typo"


def test_the_reason_feedback_opens_cases_with_stays_active(client, db) -> None:  # type: ignore[no-untyped-def]
    assert loop.REASON in settings.PROTECTED_REASONS
    admin = token_headers(db, "admin")
    r = client.patch(f"{API}/reasons/{loop.REASON}", headers=admin, json={"active": False})
    assert r.status_code == 422 and _fields(r) == {"active"} and "feedback" in r.json()["error"]["message"]
    assert client.delete(f"{API}/reasons/{loop.REASON}", headers=admin).status_code == 409


def test_permissions_read_cases_write_desk_configure(client, db) -> None:  # type: ignore[no-untyped-def]
    body = {"reason": "billing", "priority": "high", "first_response_minutes": 45, "resolution_minutes": 300}
    assert client.get(f"{API}/sla-policies").status_code == 401
    for role in ("agent",):
        headers = token_headers(db, role)
        for path in ("sla-policies", "calendars", "reasons"):
            assert client.get(f"{API}/{path}", headers=headers).status_code == 200
        r = client.post(f"{API}/sla-policies", headers=headers, json=body)
        assert r.status_code == 403 and "desk:configure" in r.json()["error"]["message"]
        assert client.patch(f"{API}/reasons/billing", headers=headers, json={"label": "Bills"}).status_code == 403
    assert client.get(f"{API}/reasons", headers=token_headers(db, "auditor")).status_code == 403
    assert not _audit(db, "sla_policy.create")  # refused writes change nothing
    manager = token_headers(db, "cx_manager")  # the patient-experience lead sets the desk's targets
    assert client.post(f"{API}/sla-policies", headers=manager, json=body).status_code == 201
    assert len(_audit(db, "sla_policy.create")) == 1


def test_cookie_session_writes_need_the_csrf_token(client, db) -> None:  # type: ignore[no-untyped-def]
    headers = login(client, db, "admin")
    body = {"code": "csrf_check", "label": "CSRF check"}
    assert client.post(f"{API}/reasons", json=body).status_code == 403
    assert client.post(f"{API}/reasons", json=body, headers=headers).status_code == 201


def test_committed_changes_reach_the_next_case_in_another_session(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    """Real commits on separate sessions, as requests in a running server make them. The contact path may keep
    policies, calendars and reasons in a per-process copy: a change saved here must still reach the very next
    case (the settings writes go through the ORM, whose events drop that copy)."""
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    actor = Actor.system("tests")
    try:
        with factory() as s:
            ids = [people.create_patient(s, actor, PatientCreate(mrn=f"INV-{i}", given_name="Ina",
                                                                 family_name=f"Valid{i}")).id for i in range(4)]
            pid = settings.create_policy(s, actor, reason="billing", priority="normal", first_response_minutes=15,
                                         resolution_minutes=45, business_hours=False).id
            s.commit()

        def open_case(patient_id: int, reason: str = "billing") -> Case:
            with factory() as s:
                case = service.open_case(s, actor, patient_id=patient_id, reason=reason, opened_at=MONDAY_10,
                                         route=False)
                s.commit()
                return case

        first = open_case(ids[0])  # reads (and may keep) policies, calendars and reasons
        with factory() as s:
            settings.update_policy(s, actor, pid, first_response_minutes=30, resolution_minutes=90)
            settings.create_reason(s, actor, code="lab_results", label="Lab results")
            s.commit()
        second = open_case(ids[1])
        lab = open_case(ids[2], "lab_results")  # a reason added a moment ago can be chosen at once
        with factory() as s:
            settings.update_policy(s, actor, pid, business_hours=True)
            cal_id = s.execute(select(BusinessCalendar.id).where(BusinessCalendar.facility_id.is_(None))).scalar_one()
            settings.update_calendar(s, actor, cal_id, timezone="UTC", hours={"1": ["09:00", "17:00"]})
            s.commit()
        third = open_case(ids[3])
    finally:
        engine.dispose()
    assert first.first_response_due_at == MONDAY_10 + dt.timedelta(minutes=15)
    assert second.first_response_due_at == MONDAY_10 + dt.timedelta(minutes=30)
    assert second.resolution_due_at == MONDAY_10 + dt.timedelta(minutes=90)
    assert lab.reason == "lab_results"
    assert third.first_response_due_at == MONDAY_10 + dt.timedelta(minutes=30)  # Monday 10:00 UTC is open now
    assert third.resolution_due_at == MONDAY_10 + dt.timedelta(minutes=90)

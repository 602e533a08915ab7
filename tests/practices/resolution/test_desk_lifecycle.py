"""Case lifecycle: transitions are timestamped events plus audit rows; repeat contacts reopen cases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from pxm.platform.audit.models import AuditEvent
from pxm.platform.http.errors import BadRequest, Conflict
from pxm.practices.resolution import service
from pxm.practices.resolution.models import CaseEvent, Contact

T0 = dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC)  # a Monday, 09:00 in New York


def _events(db, case_id):  # type: ignore[no-untyped-def]
    return db.execute(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).scalars().all()


def test_open_case_sets_sla_due_times_in_business_hours(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    # Friday 17:00 New York: the default calendar closes at 18:00, so 4 business hours end Monday 11:00.
    friday_5pm = dt.datetime(2025, 3, 7, 22, 0, tzinfo=dt.UTC)
    case = service.open_case(db, actor, patient_id=p.id, reason="billing", opened_at=friday_5pm)
    assert case.status == "new"
    assert case.first_response_due_at == dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC)
    # 1200 business minutes = 20 h: Fri 1 h + Mon 10 h + Tue 9 h -> Tuesday 17:00 New York
    assert case.resolution_due_at == dt.datetime(2025, 3, 11, 21, 0, tzinfo=dt.UTC)
    kinds = [e.kind for e in _events(db, case.id)]
    assert kinds == ["opened"]


def test_full_lifecycle_is_evented_and_audited(db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    p, a = make_patient(), make_agent()
    case = service.open_case(db, actor, patient_id=p.id, reason="referral", route=False)
    service.assign(db, actor, case.id, a.id, reason_text="skills match")
    assert case.status == "assigned" and case.assigned_staff_id == a.id and case.team == "front-desk"
    service.transition(db, actor, case.id, "in_progress")
    assert case.first_response_at is not None
    service.transition(db, actor, case.id, "waiting_on_patient", note="asked for insurance card")
    with pytest.raises(BadRequest, match="resolution_code"):
        service.transition(db, actor, case.id, "resolved")
    service.transition(db, actor, case.id, "resolved", resolution_code="referral_made")
    assert case.resolved_at is not None and case.resolution_code == "referral_made"
    service.transition(db, actor, case.id, "closed")
    assert case.closed_at is not None
    with pytest.raises(Conflict, match="cannot move"):
        service.transition(db, actor, case.id, "waiting_on_patient")
    events = _events(db, case.id)
    assert [(e.kind, e.to_status) for e in events] == [
        ("opened", "new"), ("assign", "assigned"), ("transition", "in_progress"),
        ("transition", "waiting_on_patient"), ("transition", "resolved"), ("transition", "closed")]
    assert all(e.at is not None for e in events)
    audited = db.execute(select(AuditEvent.action).where(AuditEvent.resource_type == "case",
                                                         AuditEvent.resource_id == str(case.id))).scalars().all()
    assert audited.count("case.transition") == 4 and "case.assign" in audited and "case.opened" in audited


def test_repeat_contact_reopens_resolved_case_within_window(db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    p, a = make_patient(), make_agent()
    first = service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound",
                                reason="billing", started_at=T0, ended_at=T0 + dt.timedelta(minutes=6),
                                agent_id=a.id, resolved=True, route=False)
    case = service.get_case(db, first.case_id)
    assert case.status == "resolved" and case.resolution_code == "answered"
    again = service.log_contact(db, actor, patient_id=p.id, channel="chat", direction="inbound", reason="billing",
                                started_at=T0 + dt.timedelta(days=2), agent_id=a.id, route=False)
    assert again.case_id == case.id
    assert case.status == "in_progress" and case.reopened_count == 1 and case.resolved_at is None
    assert "reopen" in [e.kind for e in _events(db, case.id)]
    # another reason, or after the window, opens a new case
    other = service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound",
                                reason="referral", started_at=T0 + dt.timedelta(days=2), route=False)
    assert other.case_id != case.id
    n = db.execute(select(Contact).where(Contact.case_id == case.id)).scalars().all()
    assert len(n) == 2


def test_log_contact_rejects_bad_input(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    with pytest.raises(BadRequest, match="channel must be one of"):
        service.log_contact(db, actor, patient_id=p.id, channel="fax", direction="inbound", reason="billing",
                            started_at=T0)
    with pytest.raises(BadRequest, match="reason must be one of"):
        service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound", reason="parking",
                            started_at=T0)
    with pytest.raises(BadRequest, match="ended_at"):
        service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound", reason="billing",
                            started_at=T0, ended_at=T0 - dt.timedelta(minutes=1))

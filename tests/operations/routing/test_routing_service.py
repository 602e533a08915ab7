"""Routing through the service desk: a new case goes to the right agent and the reason is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.helpers.batches import batches_sent

from pxm.operations.routing import service as routing
from pxm.operations.routing.models import RoutingDecision
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import APIError
from pxm.platform.jobs.models import Job
from pxm.platform.people.models import Staff
from pxm.practices.resolution.models import Case


def decisions(db, case_id: int) -> list[RoutingDecision]:
    return routing.decisions_for_case(db, case_id)


def test_new_case_goes_to_least_loaded_agent_with_reason_and_language(db, make_agent, make_patient, open_case):
    busy_es = make_agent("Busy Spanish", reasons=("billing",), languages=("es", "en"))
    free_es = make_agent("Free Spanish", reasons=("billing",), languages=("es",))
    make_agent("English only", reasons=("billing",), languages=("en",), idle_minutes=90)
    make_agent("Spanish referrals", reasons=("referral",), languages=("es",), idle_minutes=90)
    make_agent("Away Spanish", reasons=("billing",), languages=("es",), status="away")
    other = make_patient("en")
    for _ in range(2):  # give busy_es two open cases
        c = open_case(other, route=False)
        routing.reassign(db, Actor.system("test"), c.id, busy_es.id)

    case = open_case(make_patient("es"))
    assert case.assigned_staff_id == free_es.id
    assert case.status == "assigned"
    [row] = decisions(db, case.id)
    assert row.kind == "auto" and row.step == 0 and row.candidates == 2
    assert row.explanation == "matched billing + Spanish; 1 of 2 candidates; least loaded (0 open of 5)"
    assert row.requirements["language"] == "es"


def test_capacity_respected_and_priority_order_in_the_queue(db, make_agent, make_patient, open_case, system):
    agent = make_agent("Solo", capacity=1)
    p = make_patient("en")
    first = open_case(p)
    assert first.assigned_staff_id == agent.id
    low = open_case(p, priority="low", opened_minutes_ago=1.0)
    urgent = open_case(p, priority="urgent", opened_minutes_ago=0.5)
    normal_old = open_case(p, priority="normal", opened_minutes_ago=1.5)
    normal_new = open_case(p, priority="normal", opened_minutes_ago=0.2)
    for c in (low, urgent, normal_old, normal_new):
        assert c.assigned_staff_id is None  # the only agent is at capacity
        assert decisions(db, c.id)[-1].kind == "queued"
    # a sweep job was scheduled for the waiting cases
    assert db.execute(select(Job).where(Job.kind == routing.SWEEP_KIND)).scalars().first() is not None
    assert [c.id for c in routing.queued_cases(db, 10)] == [urgent.id, normal_old.id, normal_new.id, low.id]

    # the agent frees up: two slots; the sweep serves the urgent case first, then the older normal one
    first.status = "resolved"
    agent.capacity = 2
    db.flush()
    result = routing.reroute_queue(db, system)
    assert result == {"considered": 4, "assigned": 2, "waiting": 2}
    db.expire_all()
    assert db.get(Case, urgent.id).assigned_staff_id == agent.id
    assert db.get(Case, normal_old.id).assigned_staff_id == agent.id
    assert db.get(Case, normal_new.id).assigned_staff_id is None
    assert decisions(db, urgent.id)[-1].kind == "sweep"


def test_widening_step_is_recorded_by_the_sweep(db, make_agent, make_patient, open_case, system):
    make_agent("Spanish referrals", reasons=("referral",), languages=("es",), team="front")
    billing_en = make_agent("English billing", reasons=("billing",), languages=("en",), team="front")
    case = open_case(make_patient("es"), opened_minutes_ago=0.5)
    assert case.assigned_staff_id is None
    queued = decisions(db, case.id)
    assert len(queued) == 1 and queued[0].step == 0
    assert "widens to step 1 after 120 s" in queued[0].explanation

    # a sweep before the wait elapses changes nothing and records nothing new
    assert routing.reroute_queue(db, system)["assigned"] == 0
    assert len(decisions(db, case.id)) == 1

    # after 3 minutes: step 1 keeps Spanish and widens the reason to the billing team ("front")
    import datetime as dt
    later = case.opened_at + dt.timedelta(minutes=3)
    routing.reroute_queue(db, system, now=later)
    db.expire_all()
    case = db.get(Case, case.id)
    row = decisions(db, case.id)[-1]
    assert case.assigned_staff_id != billing_en.id and case.assigned_staff_id is not None
    assert row.kind == "sweep" and row.step == 1
    assert row.explanation.startswith("matched Spanish; reason widened to the billing team; 1 of 1 candidate")
    assert "widened to step 1 after waiting 3 min" in row.explanation


def test_reassign_is_audited_and_needs_the_permission(db, make_agent, make_patient, open_case):
    a = make_agent("A", idle_minutes=50)
    b = make_agent("B", idle_minutes=5)
    case = open_case(make_patient())
    assert case.assigned_staff_id == a.id
    agent_actor = Actor.for_user(99, "agent-x", "agent")
    with pytest.raises(APIError) as err:
        routing.reassign(db, agent_actor, case.id, b.id)
    assert err.value.status == 403
    sup = Actor.for_user(98, "sup", "cx_manager")
    row = routing.reassign(db, sup, case.id, b.id, note="patient asked for B")
    assert row.kind == "reassign" and row.previous_staff_id == a.id and row.staff_id == b.id
    assert row.explanation == "reassigned by sup to B: patient asked for B"
    assert db.get(Case, case.id).assigned_staff_id == b.id
    ev = db.execute(select(AuditEvent).where(AuditEvent.action == "case.reassign")).scalars().one()
    assert ev.actor == "user:sup" and ev.details["from_staff_id"] == a.id and ev.details["to_staff_id"] == b.id


def test_reassign_refuses_unknown_agent(db, make_agent, make_patient, open_case):
    make_agent("A")
    case = open_case(make_patient())
    sup = Actor.for_user(98, "sup", "cx_manager")
    with pytest.raises(APIError) as err:
        routing.reassign(db, sup, case.id, 987654)
    assert "staff_id 987654" in err.value.message
    assert db.execute(select(Staff).where(Staff.id == 987654)).first() is None


def test_the_scheduled_sweep_job_assigns_waiting_cases(db, make_agent, make_patient, open_case):
    from pxm.operations.routing import tasks

    case = open_case(make_patient("en"))
    assert case.assigned_staff_id is None  # nobody is available yet
    job = db.execute(select(Job).where(Job.kind == routing.SWEEP_KIND)).scalars().one()
    assert job.run_after > case.opened_at  # due at the next sweep slot
    agent = make_agent("Late starter")
    result = tasks.sweep_queue(db, job)
    assert result == {"considered": 1, "assigned": 1, "waiting": 0}
    assert db.get(Case, case.id).assigned_staff_id == agent.id
    assert decisions(db, case.id)[-1].kind == "sweep"


def test_the_sweep_sends_its_assignments_together_and_audits_each(db, make_agent, make_patient, open_case, system,
                                                                  monkeypatch):
    """While the sweep holds the routing lock it writes nothing case by case: the decision rows, the case rows and
    their events go in one batch (on PostgreSQL one round trip, with the audit events and the COMMIT)."""
    from pxm.practices.resolution.models import CaseEvent

    agent = make_agent("Solo", capacity=0)
    waiting = [open_case(make_patient("en"), opened_minutes_ago=0.5) for _ in range(3)]
    assert all(c.assigned_staff_id is None for c in waiting)
    agent.capacity = 5
    db.flush()
    sent = batches_sent(monkeypatch)
    assert routing.reroute_queue(db, system) == {"considered": 3, "assigned": 3, "waiting": 0}
    db.commit()
    [writes] = [b for b in sent if any(sql.startswith("INSERT INTO routing_decisions") for sql in b)]
    assert [sum(sql.startswith(start) for sql in writes) for start in (
        "INSERT INTO routing_decisions", "UPDATE cases SET", "INSERT INTO case_events")] == [3, 3, 3]
    db.expire_all()
    for case in waiting:
        assert db.get(Case, case.id).assigned_staff_id == agent.id and db.get(Case, case.id).status == "assigned"
        assert decisions(db, case.id)[-1].kind == "sweep"
        kinds = db.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).scalars().all()
        assert kinds.count("assign") == 1
        actions = db.execute(select(AuditEvent.action).where(AuditEvent.resource_type == "case",
                                                             AuditEvent.resource_id == str(case.id))).scalars().all()
        assert actions.count("case.assign") == 1

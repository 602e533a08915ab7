"""The contact hot path: what one contact writes (events, one audit event, SLA jobs, routing), which case it
joins, and the per-process copy of reference data (seen at once when changed here, dropped on rollback)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from tests.conftest import PG_URL
from tests.helpers.batches import batches_sent, statements_run
from tests.helpers.postgres import backend_pid, one_connection_engine, terminate

from pxm.operations.routing.models import RoutingDecision
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.db.base import utcnow
from pxm.platform.db.prebuilt import Batch
from pxm.platform.http.errors import NotFound
from pxm.platform.jobs.models import Job
from pxm.platform.jobs.service import (
    NewJob,
    add_enqueue_listener,
    enqueue_many,
    notify_committed,
    remove_enqueue_listener,
)
from pxm.platform.people import service as people
from pxm.platform.people.models import Staff
from pxm.platform.people.schemas import PatientCreate
from pxm.practices.resolution import service
from pxm.practices.resolution.models import Case, CaseEvent, Contact, SlaPolicy

T0 = dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC)  # a Monday, 09:00 in New York


def _agent(db, **kw) -> Staff:  # type: ignore[no-untyped-def]
    staff = Staff(username=kw.pop("username", "desk-path-agent"), display_name=kw.pop("name", "Ana"),
                  job_role="agent", team=kw.pop("team", "front"), languages=["en"], reasons=["billing"], channels=[],
                  capacity=5, status="available", active=True, status_since=utcnow() - dt.timedelta(minutes=5))
    db.add(staff)
    db.flush()
    return staff


def _audit(db, case_id: int) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return db.execute(select(AuditEvent).where(AuditEvent.resource_type == "case",
                                               AuditEvent.resource_id == str(case_id))
                      .order_by(AuditEvent.seq)).scalars().all()


def test_a_contact_that_opens_a_case_writes_it_routed_with_one_audit_event(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p, agent = make_patient(), _agent(db)
    contact = service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound",
                                  reason="billing", started_at=T0)
    case = service.get_case(db, contact.case_id)
    assert case.status == "assigned" and case.assigned_staff_id == agent.id and case.team == "front"
    assert case.first_response_due_at is not None and case.resolution_due_at is not None
    events = db.execute(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).scalars().all()
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        ("opened", None, "new"), ("assign", "new", "assigned"), ("contact", None, None)]
    assert events[1].actor == "system:routing" and events[1].note.startswith("matched billing + English")
    assert events[2].details["contact_id"] == contact.id
    [decision] = db.execute(select(RoutingDecision).where(RoutingDecision.case_id == case.id)).scalars().all()
    assert decision.kind == "auto" and decision.staff_id == agent.id
    jobs = db.execute(select(Job).where(Job.kind == "sla.check")).scalars().all()
    assert sorted(j.dedupe_key for j in jobs if j.payload["case_id"] == case.id) == [
        f"sla:{case.id}:first_response:0", f"sla:{case.id}:resolution:0"]
    db.commit()  # the audit events are written at commit
    [ev] = _audit(db, case.id)
    assert ev.action == "case.opened" and ev.actor == actor.label and ev.patient_id == p.id
    assert ev.details == {"reason": "billing", "priority": "normal", "source": "contact", "to": "assigned",
                          "assigned_staff_id": agent.id, "assigned_by": "system:routing",
                          "routing_decision_id": decision.id, "contact_id": contact.id, "channel": "phone",
                          "direction": "inbound"}


def test_a_contact_an_agent_handled_opens_its_case_with_the_first_response_recorded(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """An agent logs a call they answered: the case it opens is written with its first response (the answer
    time), not updated for it afterwards (the assignment and the move to in progress still are)."""
    p, agent = make_patient(), _agent(db)
    answered = T0 + dt.timedelta(seconds=40)
    with statements_run(db.get_bind()) as ran:
        contact = service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound",
                                      reason="billing", started_at=T0, queued_at=T0, answered_at=answered,
                                      agent_id=agent.id)
        db.commit()
    updates = [sql for sql in ran if sql.lstrip().upper().startswith("UPDATE CASES")]
    assert not [u for u in updates if "first_response_at" in u], updates
    assert any("assigned_staff_id" in u for u in updates)  # the assignment
    db.expire_all()
    case = service.get_case(db, contact.case_id)
    assert (case.first_response_at, case.assigned_staff_id, case.status) == (answered, agent.id, "in_progress")


def test_a_case_opened_by_a_contact_an_agent_handled_is_that_agents_not_routings(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """The agent who answered the call owns the case it opens, even where routing would pick someone else (here
    a colleague idle for longer); the assignment says why, and no routing decision is made. A contact nobody
    handled is still routed."""
    p = make_patient()
    idle = _agent(db, username="desk-path-idle", name="Ida", team="back")
    idle.status_since = utcnow() - dt.timedelta(hours=3)
    caller = _agent(db, username="desk-path-caller", name="Cal")
    contact = service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound",
                                  reason="billing", started_at=T0, answered_at=T0, agent_id=caller.id)
    db.commit()
    case = service.get_case(db, contact.case_id)
    assert (case.assigned_staff_id, case.team, case.status) == (caller.id, "front", "in_progress")
    events = db.execute(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).scalars().all()
    assert [(e.kind, e.actor, e.note) for e in events[:2]] == [
        ("opened", actor.label, None), ("assign", actor.label, service.HANDLED_FIRST_CONTACT)]
    assert events[1].details == {"staff_id": caller.id}
    assert events[1].at == events[0].at == T0  # taken when the call was: the history reads in order
    assert db.execute(select(RoutingDecision).where(RoutingDecision.case_id == case.id)).first() is None
    opened = _audit(db, case.id)[0]
    assert opened.action == "case.opened"
    assert (opened.details["assigned_staff_id"], opened.details["assigned_by"]) == (caller.id, actor.label)
    assert "routing" not in opened.details and "routing_decision_id" not in opened.details

    other = service.log_contact(db, actor, patient_id=make_patient().id, channel="portal", direction="inbound",
                                reason="billing", started_at=T0)
    db.commit()
    routed = service.get_case(db, other.case_id)
    assert (routed.assigned_staff_id, routed.status) == (idle.id, "assigned")  # routing: idle longest


def test_a_repeat_contact_joins_the_open_case_before_a_recently_resolved_one(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    kw = dict(patient_id=p.id, channel="phone", direction="inbound", reason="billing", route=False)
    done = service.log_contact(db, actor, started_at=T0, ended_at=T0 + dt.timedelta(minutes=3), agent_id=None,
                               resolved=True, **kw)
    opened = service.open_case(db, actor, patient_id=p.id, reason="billing", opened_at=T0 + dt.timedelta(hours=1),
                               route=False)
    again = service.log_contact(db, actor, started_at=T0 + dt.timedelta(hours=2), **kw)
    assert again.case_id == opened.id != done.case_id
    assert service.get_case(db, done.case_id).status == "resolved"  # not reopened
    db.commit()
    assert [e.action for e in _audit(db, opened.id)] == ["case.opened", "case.contact"]


def test_a_contact_for_an_unknown_patient_or_agent_is_refused(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    kw = dict(channel="phone", direction="inbound", reason="billing", started_at=T0)
    with pytest.raises(NotFound, match="patient"):
        service.log_contact(db, actor, patient_id=987654, **kw)
    with pytest.raises(NotFound, match="staff member"):
        service.log_contact(db, actor, patient_id=make_patient().id, agent_id=987654, **kw)
    assert db.execute(select(CaseEvent)).first() is None  # nothing was written


def test_an_sla_policy_counts_at_once_in_its_transaction_and_not_after_a_rollback(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    """Real transactions, as requests make them: the per-process copy of the policies must neither hide a change
    from the transaction that made it nor keep it once that transaction rolled back."""
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    actor = Actor.system("tests")
    try:
        with factory() as s:
            pid = people.create_patient(s, actor, PatientCreate(mrn="SLA-RB-1", given_name="Rob", family_name="Back")).id
            s.commit()

        def urgent(s):  # type: ignore[no-untyped-def]
            return service.open_case(s, actor, patient_id=pid, reason="billing", priority="urgent", opened_at=T0,
                                     route=False).first_response_due_at

        with factory() as s:
            baseline = urgent(s)  # (any reason, urgent): 30 minutes around the clock
            s.commit()
        with factory() as s:
            s.add(SlaPolicy(reason="billing", priority="urgent", first_response_minutes=7, resolution_minutes=11,
                            business_hours=False, active=True))
            s.flush()
            in_transaction = urgent(s)
            s.rollback()
        with factory() as s:
            after_rollback = urgent(s)
            s.commit()
    finally:
        engine.dispose()
    assert baseline == T0 + dt.timedelta(minutes=30)
    assert in_transaction == T0 + dt.timedelta(minutes=7)
    assert after_rollback == baseline


def test_enqueue_many_writes_new_jobs_in_one_go_and_skips_known_keys(db) -> None:  # type: ignore[no-untyped-def]
    first = enqueue_many(db, [NewJob("desk.test", {"n": 1}, dedupe_key="desk-test:1"),
                              NewJob("desk.test", {"n": 2}, dedupe_key="desk-test:2")])
    second = enqueue_many(db, [NewJob("desk.test", {"n": 9}, dedupe_key="desk-test:1"),
                               NewJob("desk.test", {"n": 3}), NewJob("desk.test", {"n": 4}, dedupe_key="desk-test:4")])
    assert len(first) == 2 and len(second) == 2 and not set(first) & set(second)
    rows = db.execute(select(Job).where(Job.kind == "desk.test").order_by(Job.id)).scalars().all()
    assert [r.payload["n"] for r in rows] == [1, 2, 3, 4]  # the repeated key kept its first job
    assert all(r.status == "pending" and r.attempts == 0 and r.run_after is not None for r in rows)
    assert set(first + second) <= set(db.info["pxm_new_jobs"])  # notified after commit


def test_on_postgresql_a_new_case_and_its_contact_are_written_before_the_routing_lock(db, actor, make_patient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With their ids reserved up front, nothing waits for the new case's rows. On PostgreSQL the case, its SLA
    jobs and its contact go in the batch that takes the routing lock, ahead of the lock (the database writes
    them before it waits for it), and only the assignment (an UPDATE), the decision and the events are written
    once routing has decided, while the lock is held. SQLite hands out ids only on INSERT, so there the case and
    contact are written at once, before routing, which then assigns the case. (A statement in between, such as
    a reload of the per-process copy of the routing settings once they expire, would send the queued rows on
    their own round trip first; the first contact loads those copies.)"""
    p, agent = make_patient(), _agent(db)
    service.log_contact(db, actor, patient_id=make_patient().id, channel="phone", direction="inbound",
                        reason="billing", started_at=T0)
    db.commit()
    sent = batches_sent(monkeypatch)
    contact = service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound",
                                  reason="billing", started_at=T0)
    jobs = db.execute(select(Job).where(Job.kind == "sla.check")).scalars().all()  # sends what is deferred
    [locking] = [b for b in sent if any(s.startswith("SELECT staff.id,") for s in b)]  # the agents snapshot
    written = [s for b in sent for s in b]
    if db.get_bind().dialect.name == "postgresql":
        starts = ["INSERT INTO cases", "INSERT INTO jobs", "INSERT INTO contacts", "SELECT nextval(",
                  "SELECT staff.id,"]
        assert [sql.startswith(start) for sql, start in zip(locking, starts, strict=False)] == [True] * 5, locking
        assert "pg_advisory_xact_lock" in locking[3]  # the lock, with the decision row's id
        after = written[written.index(locking[-1]) + 1:]
        assert not any(s.startswith("INSERT INTO cases") or s.startswith("INSERT INTO contacts") for s in after)
        order = ["UPDATE cases", "INSERT INTO routing_decisions"]
        positions = [next(i for i, s in enumerate(after) if s.startswith(o)) for o in order]
        assert positions == sorted(positions), after
    else:
        assert not any(s.startswith("INSERT") for s in locking)
    # its three events (opened, assign, contact): one multi-row INSERT, not one statement per row
    [events] = [s for s in written if s.startswith("INSERT INTO case_events")]
    assert events.count("), (") == 2
    case = service.get_case(db, contact.case_id)
    assert case.assigned_staff_id == agent.id and case.status == "assigned"
    assert db.get(Contact, contact.id).case_id == case.id
    db.expire_all()  # what the database holds
    stored = service.get_case(db, contact.case_id)
    assert (stored.assigned_staff_id, stored.status, stored.team) == (agent.id, "assigned", agent.team)
    assert len([j for j in jobs if j.payload["case_id"] == case.id]) == 2


def test_a_contact_nobody_can_take_opens_a_queued_case_with_the_contact_and_decision_stored(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """No agent is available: the case waits (status new) with a ``queued`` decision row, and its contact is
    stored with it."""
    db.execute(update(Staff).values(status="offline"))
    p = make_patient()
    contact = service.log_contact(db, actor, patient_id=p.id, channel="chat", direction="inbound",
                                  reason="test_results", started_at=T0)
    db.commit()
    db.expire_all()
    case = service.get_case(db, contact.case_id)
    assert (case.status, case.assigned_staff_id, case.reason) == ("new", None, "test_results")
    assert db.get(Contact, contact.id).case_id == case.id
    decisions = db.execute(select(RoutingDecision).where(RoutingDecision.case_id == case.id)).scalars().all()
    assert [d.kind for d in decisions] == ["queued"]
    [opened] = [e for e in _audit(db, case.id) if e.action == "case.opened"]
    assert opened.details["routing"] == "queued" and opened.details["routing_decision_id"] == decisions[0].id


def test_a_repeat_contact_takes_no_case_number(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """Case numbers stay consecutive: a contact that joins a case reserves no case id (on PostgreSQL the id of a
    case a contact opens is reserved before the INSERT)."""
    p = make_patient()
    kw = dict(patient_id=p.id, channel="phone", direction="inbound", route=False)
    first = service.log_contact(db, actor, reason="billing", started_at=T0, **kw)
    again = service.log_contact(db, actor, reason="billing", started_at=T0 + dt.timedelta(hours=1), **kw)
    other = service.log_contact(db, actor, reason="referral", started_at=T0 + dt.timedelta(hours=2), **kw)
    assert again.case_id == first.case_id
    assert other.case_id == first.case_id + 1
    assert other.id == again.id + 1 == first.id + 2


def test_jobs_queued_in_a_batch_reach_the_listeners_after_the_commit(db) -> None:  # type: ignore[no-untyped-def]
    heard: list[int] = []
    batch = Batch(db.connection())
    assert enqueue_many(db, [NewJob("desk.test", {"n": 1}), NewJob("desk.test", {"n": 2})], batch=batch) == []
    assert db.execute(select(Job).where(Job.kind == "desk.test")).first() is None  # queued, not sent
    batch.send()
    add_enqueue_listener(heard.extend)
    try:
        notify_committed(db)
    finally:
        remove_enqueue_listener(heard.extend)
    ids = db.execute(select(Job.id).where(Job.kind == "desk.test").order_by(Job.id)).scalars().all()
    assert len(ids) == 2 and sorted(heard) == ids


def test_insert_row_in_a_batch_needs_the_rows_id(db, make_patient) -> None:  # type: ignore[no-untyped-def]
    case = Case(patient_id=make_patient().id, reason="billing", priority="normal", status="new", source="contact",
                opened_at=T0, reopened_count=0, first_response_breached=False, resolution_breached=False)
    with pytest.raises(ValueError, match="needs the row's id"):
        service.insert_row(db, case, Batch(db.connection()))


def test_on_postgresql_a_contact_joining_a_case_goes_with_the_audit_heads_lock(db, actor, make_patient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A contact that joins a case takes no routing lock: on PostgreSQL its row and its event wait (deferred) and
    go to the server with the lock of the audit chain's head, at commit."""
    p = make_patient()
    kw = dict(patient_id=p.id, channel="phone", direction="inbound", reason="billing", route=False)
    first = service.log_contact(db, actor, started_at=T0, **kw)
    db.commit()
    sent = batches_sent(monkeypatch)
    again = service.log_contact(db, actor, started_at=T0 + dt.timedelta(hours=1), **kw)
    db.commit()
    [heading] = [b for b in sent if any(s.startswith("UPDATE audit_head SET last_seq=audit_head.last_seq") for s in b)]
    if db.get_bind().dialect.name == "postgresql":
        assert [s.split(" (")[0] for s in heading] == ["INSERT INTO contacts", "INSERT INTO case_events",
                                                       heading[-1]]
    else:
        assert len(heading) == 1  # SQLite wrote the contact at once
    assert again.case_id == first.case_id
    assert [e.action for e in _audit(db, first.case_id)] == ["case.opened", "case.contact"]
    events = db.execute(select(CaseEvent.kind).where(CaseEvent.case_id == first.case_id)).scalars().all()
    assert events.count("contact") == 2


@pytest.mark.skipif(not PG_URL, reason="drops a PostgreSQL backend: needs PXM_TEST_DATABASE_URL")
def test_a_dropped_connection_raises_the_databases_error() -> None:
    """The per-process copies of reference data listen to every rollback: a connection the server dropped must
    still end with the database's error (the request fails, the pool reconnects), not with a listener's."""
    with one_connection_engine(ping_after_seconds=3600) as engine:
        terminate(backend_pid(engine))
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1

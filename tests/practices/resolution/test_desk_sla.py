"""SLA breaches escalate through the outbox: exactly once, even when a worker dies mid-job."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from pxm.platform import jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.jobs.models import Job
from pxm.practices.resolution import (
    service,
    tasks,  # noqa: F401  (registers the sla.check handler)
)
from pxm.practices.resolution.models import Case, CaseEvent, Escalation
from pxm.practices.resolution.sla import Hours


def _sla_jobs(db, case_id):  # type: ignore[no-untyped-def]
    rows = db.execute(select(Job).where(Job.kind == "sla.check")).scalars().all()
    return [j for j in rows if j.payload["case_id"] == case_id]


def _make_due_now(db, case: Case) -> None:  # type: ignore[no-untyped-def]
    """Pretend the case was opened long ago: its targets and their jobs are due."""
    past = utcnow() - dt.timedelta(hours=1)
    case.first_response_due_at = past
    case.resolution_due_at = past
    for j in _sla_jobs(db, case.id):
        j.run_after = past
    db.commit()


def test_case_creation_enqueues_one_check_per_target(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    case = service.open_case(db, actor, patient_id=p.id, reason="billing", route=False)
    found = _sla_jobs(db, case.id)
    assert sorted(j.payload["target"] for j in found) == ["first_response", "resolution"]
    by_target = {j.payload["target"]: j for j in found}
    assert by_target["first_response"].run_after == case.first_response_due_at
    assert by_target["resolution"].dedupe_key == f"sla:{case.id}:resolution:0"


def test_breach_escalates_once_after_worker_died(db, session_factory, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.system("test")
    p = make_patient()
    make_agent(job_role="supervisor", team="billing-team")
    case = service.open_case(db, actor, patient_id=p.id, reason="billing", team="billing-team", route=False)
    _make_due_now(db, case)
    job = next(j for j in _sla_jobs(db, case.id) if j.payload["target"] == "resolution")
    # A worker claimed the job, then died: the row stays running with a stale lock and nothing committed.
    db.execute(update(Job).where(Job.id == job.id).values(
        status="running", locked_by="worker-that-died", locked_at=utcnow() - dt.timedelta(hours=2), attempts=1))
    db.commit()
    assert jobs.run_job(session_factory, job.id, "worker-2") == "skipped"  # still claimed by the dead worker
    assert jobs.sweep(db, dt.timedelta(minutes=5)) == 1
    db.commit()
    assert jobs.run_job(session_factory, job.id, "worker-2") == "done"
    # run again (a duplicate delivery): no second escalation
    db.execute(update(Job).where(Job.id == job.id).values(status="pending"))
    db.commit()
    assert jobs.run_job(session_factory, job.id, "worker-3") == "done"
    db.expire_all()
    escalations = db.execute(select(Escalation).where(Escalation.case_id == case.id)).scalars().all()
    assert [(e.target, e.previous_priority, e.new_priority) for e in escalations] == [("resolution", "normal", "high")]
    assert escalations[0].supervisor_staff_id is not None
    case = db.get(Case, case.id)
    assert case.resolution_breached and case.priority == "high"
    kinds = db.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).scalars().all()
    assert kinds.count("escalation") == 1


def test_no_escalation_when_resolved_in_time(db, session_factory, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    case = service.open_case(db, actor, patient_id=p.id, reason="billing", route=False)
    service.transition(db, actor, case.id, "resolved", resolution_code="answered")
    db.commit()
    for j in _sla_jobs(db, case.id):
        j.run_after = utcnow() - dt.timedelta(seconds=1)
    db.commit()
    assert jobs.run_pending(session_factory) >= 2
    db.expire_all()
    assert db.execute(select(Escalation).where(Escalation.case_id == case.id)).first() is None
    assert db.get(Case, case.id).priority == "normal"


def test_business_hours_skip_nights_weekends_and_holidays() -> None:
    from zoneinfo import ZoneInfo

    h = Hours(ZoneInfo("America/New_York"), {d: (dt.time(8), dt.time(18)) for d in range(1, 6)},
              frozenset({dt.date(2025, 3, 10)}))
    fri_evening = dt.datetime(2025, 3, 7, 23, 30, tzinfo=dt.UTC)  # 18:30 local, closed
    # Monday is a holiday: 60 minutes run Tuesday 08:00-09:00 local (EDT from 9 March: UTC-4)
    assert h.add(fri_evening, 60) == dt.datetime(2025, 3, 11, 13, 0, tzinfo=dt.UTC)


def test_priority_change_moves_the_targets(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    case = service.open_case(db, actor, patient_id=p.id, reason="billing", route=False,
                             opened_at=dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC))
    before = case.resolution_due_at
    service.update_case(db, actor, case.id, priority="urgent")
    # urgent: 30 min / 4 h around the clock (seeded policy)
    assert case.first_response_due_at == dt.datetime(2025, 3, 3, 14, 30, tzinfo=dt.UTC)
    assert case.resolution_due_at == dt.datetime(2025, 3, 3, 18, 0, tzinfo=dt.UTC) < before
    runs = sorted(j.run_after for j in _sla_jobs(db, case.id) if j.payload["target"] == "resolution")
    assert runs == [case.resolution_due_at, before]

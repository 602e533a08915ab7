"""The transactional outbox: a job exists only if its cause committed, runs once, retries, then dies."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from pxm.platform.audit import record
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.jobs import enqueue, handler, run_job, run_pending, sweep
from pxm.platform.jobs.models import Job
from pxm.platform.jobs.service import retry_delay

CALLS: list[int] = []


@handler("test.outbox.count")
def _count(session, job):
    CALLS.append(job.id)
    record(session, Actor.system("test"), "test.outbox", "job", job.id)
    return {"n": job.payload.get("n")}


@handler("test.outbox.fail")
def _fail(session, job):
    record(session, Actor.system("test"), "test.outbox.fail", "job", job.id)
    raise RuntimeError("downstream said no")


@handler("test.outbox.stolen")
def _stolen(session, job):
    record(session, Actor.system("test"), "test.outbox.stolen", "job", job.id)
    # While this attempt runs, the sweep hands the job to another worker (simulated on the same row).
    session.execute(update(Job).where(Job.id == job.id).values(locked_by="someone-else"))
    return None


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def _effects(db, action: str, job_id: int) -> int:
    return int(db.execute(select(func.count()).where(AuditEvent.action == action,
                                                    AuditEvent.resource_id == str(job_id))).scalar_one())


def test_job_of_a_rolled_back_transaction_never_runs(session_factory, db):
    with pytest.raises(ZeroDivisionError):
        with session_factory() as s, s.begin():
            enqueue(s, "test.outbox.count", {"n": 1})
            1 / 0  # noqa: B018  the cause fails after the job row was written
    assert db.execute(select(func.count()).select_from(Job).where(Job.kind == "test.outbox.count")).scalar_one() == 0
    assert run_pending(session_factory) == 0
    assert CALLS == []


def test_committed_job_runs_once(session_factory, db):
    with session_factory() as s, s.begin():
        job_id = enqueue(s, "test.outbox.count", {"n": 7}).id
    assert run_pending(session_factory) == 1
    assert run_pending(session_factory) == 0  # nothing left: a second pass does not run it again
    assert run_job(session_factory, job_id) == "skipped"
    assert CALLS == [job_id]
    job = db.get(Job, job_id)
    assert job.status == "done" and job.attempts == 1 and job.result == {"n": 7}
    assert _effects(db, "test.outbox", job_id) == 1


def test_failure_retries_with_backoff_then_dies(session_factory, db):
    with session_factory() as s, s.begin():
        job_id = enqueue(s, "test.outbox.fail", max_attempts=3).id
    for attempt in (1, 2):
        before = utcnow()
        assert run_job(session_factory, job_id) == "pending"
        after = utcnow()
        db.expire_all()
        job = db.get(Job, job_id)
        assert job.attempts == attempt and "downstream said no" in job.last_error
        # the next try is scheduled 2**attempt seconds out, and is not due before then
        assert before + retry_delay(attempt) <= job.run_after <= after + retry_delay(attempt)
        assert run_job(session_factory, job_id) == "skipped"
        with session_factory() as s, s.begin():  # let the backoff elapse
            s.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow() - dt.timedelta(seconds=1)))
    assert run_job(session_factory, job_id) == "dead"
    db.expire_all()
    job = db.get(Job, job_id)
    assert job.status == "dead" and job.attempts == 3 and job.finished_at is not None
    assert _effects(db, "test.outbox.fail", job_id) == 0  # a failed attempt leaves nothing behind
    assert run_pending(session_factory) == 0


def test_backoff_grows_and_is_capped():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(20) == dt.timedelta(minutes=10)


def test_dedupe_key_returns_the_existing_job(db):
    first = enqueue(db, "test.outbox.count", {"n": 1}, dedupe_key="survey-42-invite")
    second = enqueue(db, "test.outbox.count", {"n": 2}, dedupe_key="survey-42-invite")
    assert second.id == first.id and second.payload == {"n": 1}
    n = db.execute(select(func.count()).select_from(Job).where(Job.dedupe_key == "survey-42-invite")).scalar_one()
    assert n == 1


def test_sweep_returns_only_stale_running_jobs(db):
    stale = enqueue(db, "test.outbox.count")
    fresh = enqueue(db, "test.outbox.count")
    now = utcnow()
    stale.status, stale.locked_by, stale.locked_at = "running", "dead-worker", now - dt.timedelta(minutes=10)
    fresh.status, fresh.locked_by, fresh.locked_at = "running", "live-worker", now
    db.flush()
    assert sweep(db, dt.timedelta(minutes=2)) == 1
    db.expire_all()
    assert (stale.status, stale.locked_by) == ("pending", None)
    assert stale.last_error == "re-driven by sweep"
    assert (fresh.status, fresh.locked_by) == ("running", "live-worker")
    assert sweep(db, dt.timedelta(0)) == 1  # a zero window re-drives everything running
    db.expire_all()
    assert fresh.status == "pending"


def test_a_run_whose_claim_was_taken_over_commits_nothing(session_factory, db):
    with session_factory() as s, s.begin():
        job_id = enqueue(s, "test.outbox.stolen").id
    assert run_job(session_factory, job_id, worker="slow-worker") == "skipped"
    db.expire_all()
    job = db.get(Job, job_id)
    assert job.status == "running" and job.locked_by == "slow-worker"  # the takeover was rolled back too
    assert _effects(db, "test.outbox.stolen", job_id) == 0


def test_unknown_kind_is_recorded_as_a_failure(session_factory, db):
    with session_factory() as s, s.begin():
        job_id = enqueue(s, "test.outbox.nobody-handles-this", max_attempts=1).id
    assert run_job(session_factory, job_id) == "dead"
    db.expire_all()
    assert "no handler registered" in db.get(Job, job_id).last_error

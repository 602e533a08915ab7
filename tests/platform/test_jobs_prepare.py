"""Jobs with a prepare step: long work runs outside the job's transaction, the handler only writes the outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.audit import record
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs import enqueue, handler, run_job
from pxm.platform.jobs.models import Job

CALLS: list[tuple[str, Any]] = []


def _square(session_factory: sessionmaker[Session], payload: dict[str, Any]) -> int:
    CALLS.append(("prepare", payload))
    # its own short transaction (e.g. progress): committed whatever the handler does afterwards
    with session_factory() as s, s.begin():
        record(s, Actor.system("test"), "test.prepare.progress", "job", str(payload["n"]))
    if payload.get("prepare_fails"):
        raise ValueError("the computation failed")
    return int(payload["n"]) ** 2


@handler("test.prepare.square", prepare=_square)
def _write_square(session: Session, job: Job, prepared: int) -> dict[str, Any]:
    CALLS.append(("handler", prepared))
    record(session, Actor.system("test"), "test.prepare.result", "job", job.id, details={"square": prepared})
    if job.payload.get("handler_fails"):
        raise RuntimeError("cannot write")
    return {"square": prepared}


def _count(db: Session, action: str) -> int:
    return int(db.execute(select(func.count()).where(AuditEvent.action == action)).scalar_one())


def _job(session_factory: sessionmaker[Session], payload: dict[str, Any]) -> int:
    with session_factory() as s, s.begin():
        return enqueue(s, "test.prepare.square", payload).id


def test_prepare_runs_first_and_the_handler_gets_its_result(session_factory: sessionmaker[Session],
                                                             db: Session) -> None:
    CALLS.clear()
    job_id = _job(session_factory, {"n": 7})
    assert run_job(session_factory, job_id) == "done"
    assert CALLS == [("prepare", {"n": 7}), ("handler", 49)]
    job = db.get(Job, job_id)
    assert job is not None and job.status == "done" and job.result == {"square": 49}
    assert _count(db, "test.prepare.result") == 1


def test_a_failing_handler_rolls_back_only_its_own_writes(session_factory: sessionmaker[Session],
                                                          db: Session) -> None:
    job_id = _job(session_factory, {"n": 3, "handler_fails": True})
    assert run_job(session_factory, job_id) == "pending"  # retried later
    db.expire_all()
    job = db.get(Job, job_id)
    assert job is not None and "cannot write" in (job.last_error or "")
    # prepare's own session committed (it ran outside the handler's transaction); the handler's write did not
    assert _count(db, "test.prepare.progress") == 1
    assert _count(db, "test.prepare.result") == 0


def test_a_failing_prepare_is_retried_and_the_handler_never_runs(session_factory: sessionmaker[Session],
                                                                 db: Session) -> None:
    CALLS.clear()
    job_id = _job(session_factory, {"n": 2, "prepare_fails": True})
    assert run_job(session_factory, job_id) == "pending"
    assert [c[0] for c in CALLS] == ["prepare"]
    db.expire_all()
    job = db.get(Job, job_id)
    assert job is not None and job.attempts == 1 and "the computation failed" in (job.last_error or "")
    assert _count(db, "test.prepare.result") == 0


def test_registering_again_without_prepare_goes_back_to_the_plain_handler(
        session_factory: sessionmaker[Session], db: Session) -> None:
    @handler("test.prepare.plain", prepare=_square)
    def first(session: Session, job: Job, prepared: int) -> dict[str, Any]:
        return {"prepared": prepared}

    @handler("test.prepare.plain")
    def second(session: Session, job: Job) -> dict[str, Any]:
        return {"plain": True}

    with session_factory() as s, s.begin():
        job_id = enqueue(s, "test.prepare.plain", {"n": 1}).id
    assert run_job(session_factory, job_id) == "done"
    job = db.get(Job, job_id)
    assert job is not None and job.result == {"plain": True}

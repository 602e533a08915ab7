"""Enqueue, claim, run and re-drive outbox jobs.

Delivery is at-least-once: a job is claimed (status ``running``, committed), then its handler runs
in a new transaction that also marks the job ``done``; the handler's database effects and the
``done`` mark commit together. A worker that dies mid-job leaves the row ``running``; the sweep
returns it to ``pending`` once its lock is stale, and the job runs again from a clean slate.
Handlers must be idempotent for effects outside the database (use the job id as a delivery key).

Long CPU work (e.g. a bootstrap) registers a ``prepare`` step: ``@handler(kind, prepare=fn)``. ``run_job`` calls
``fn(session_factory, payload)`` after the claim with no transaction open (it may open its own short sessions,
e.g. to record progress), then calls the handler as ``handler(session, job, prepared)`` in the usual transaction,
so the database is locked only while the results are written. A failing ``prepare`` is retried like a handler.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.db.base import utcnow
from pxm.platform.db.prebuilt import Batch, Prebuilt, numbered_params, numbered_values
from pxm.platform.jobs.models import Job

log = logging.getLogger("pxm.jobs")

Handler = Callable[[Session, Job], dict[str, Any] | None]
# With a prepare step the handler takes a third argument: what ``prepare`` returned.
PreparedHandler = Callable[[Session, Job, Any], dict[str, Any] | None]
Prepare = Callable[[sessionmaker[Session], dict[str, Any]], Any]
H = TypeVar("H", Handler, PreparedHandler)
_HANDLERS: dict[str, Callable[..., dict[str, Any] | None]] = {}
_PREPARE: dict[str, Prepare] = {}
# Called after a commit that created jobs (dramatiq mode sends a message per job id).
_after_enqueue: list[Callable[[list[int]], None]] = []


def handler(kind: str, prepare: Prepare | None = None) -> Callable[[H], H]:
    """Register the function that processes jobs of ``kind``.

    With ``prepare`` the work is split: ``prepare(session_factory, payload)`` runs first outside any transaction,
    then ``fn(session, job, prepared)`` writes in the job's transaction (see the module docstring).
    """

    def register(fn: H) -> H:
        _HANDLERS[kind] = fn
        if prepare is None:
            _PREPARE.pop(kind, None)
        else:
            _PREPARE[kind] = prepare
        return fn

    return register


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    run_after: dt.datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    """Write a job row in the caller's transaction. With a ``dedupe_key`` an existing job is returned."""
    if dedupe_key is not None:
        existing = session.execute(select(Job).where(Job.dedupe_key == dedupe_key)).scalar_one_or_none()
        if existing is not None:
            return existing
    job = Job(kind=kind, payload=payload or {}, dedupe_key=dedupe_key,
              run_after=run_after or utcnow(), max_attempts=max_attempts)
    session.add(job)
    session.flush()
    session.info.setdefault("pxm_new_jobs", []).append(job.id)
    return job


@dataclass(frozen=True)
class NewJob:
    """One job for ``enqueue_many``."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None
    run_after: dt.datetime | None = None
    max_attempts: int = 8


_JOBS = Job.metadata.tables[Job.__tablename__]
_JOB_KEYS = ("kind", "payload", "dedupe_key", "status", "attempts", "max_attempts", "run_after", "created_at")
_INSERT_DIALECTS: dict[str, Callable[[Any], Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# one prebuilt statement per dialect and number of rows (a contact schedules two SLA checks, say): a
# multi-row INSERT with a parameter per row and column, run on the cursor (see ``Prebuilt``)
_INSERT_NEW_JOBS: dict[tuple[str, int], Prebuilt] = {}


def _insert_new_jobs(dialect: str, n: int) -> Prebuilt | None:
    found = _INSERT_NEW_JOBS.get((dialect, n))
    if found is None:
        make = _INSERT_DIALECTS.get(dialect)
        if make is None:
            return None
        stmt = make(_JOBS).values(numbered_values(_JOBS, _JOB_KEYS, n)) \
            .on_conflict_do_nothing(index_elements=[_JOBS.c.dedupe_key])
        found = _INSERT_NEW_JOBS.setdefault((dialect, n), Prebuilt(stmt.returning(_JOBS.c.id)))
    return found


def enqueue_many(session: Session, new: Sequence[NewJob], *, batch: Batch | None = None) -> list[int]:
    """Write several job rows in the caller's transaction with one INSERT; returns the ids written.

    A job whose ``dedupe_key`` exists already is skipped (``ON CONFLICT DO NOTHING``), as ``enqueue`` returns the
    existing job instead of writing one. Plain Core: nothing is added to the session's identity map.

    ``batch``: queue the INSERT there instead (it goes when the batch is sent, or with the next one if the
    caller defers it) and return ``[]``; the ids still reach the job listeners after the commit.
    """
    if not new:
        return []
    stmt = _insert_new_jobs(session.get_bind().dialect.name, len(new))
    if stmt is None:
        return [enqueue(session, j.kind, j.payload, dedupe_key=j.dedupe_key, run_after=j.run_after,
                        max_attempts=j.max_attempts).id for j in new]
    now = utcnow()
    params = numbered_params([{"kind": j.kind, "payload": j.payload, "dedupe_key": j.dedupe_key, "status": "pending",
                               "attempts": 0, "max_attempts": j.max_attempts, "run_after": j.run_after or now,
                               "created_at": now} for j in new])
    if batch is not None:
        session.info.setdefault(_NEW_JOB_CALLS, []).append(batch.add(stmt, params))
        return []
    session.flush()
    ids = [int(r[0]) for r in stmt.rows(session.connection(), params)]
    session.info.setdefault("pxm_new_jobs", []).extend(ids)
    return ids


_NEW_JOB_CALLS = "pxm_new_job_calls"  # INSERTs queued in a batch: their rows are the ids, once it was sent


def notify_committed(session: Session) -> None:
    """Tell listeners (the Dramatiq broker) about jobs created in a transaction that just committed."""
    ids = session.info.pop("pxm_new_jobs", [])
    ids += [int(r[0]) for call in session.info.pop(_NEW_JOB_CALLS, []) for r in call.rows]
    if ids:
        for listener in _after_enqueue:
            try:
                listener(ids)
            except Exception as exc:  # the rows are committed; the scheduler re-sends them later
                log.warning("job notification failed; the sweep will re-drive",
                            extra={"job_ids": ids, "error": type(exc).__name__})


def add_enqueue_listener(fn: Callable[[list[int]], None]) -> None:
    if fn not in _after_enqueue:
        _after_enqueue.append(fn)


def remove_enqueue_listener(fn: Callable[[list[int]], None]) -> None:
    if fn in _after_enqueue:
        _after_enqueue.remove(fn)


def _claim(session_factory: sessionmaker[Session], job_id: int,
           worker: str) -> tuple[int, str, dict[str, Any]] | None:
    """Mark the job running for ``worker``; returns (attempt number, kind, payload), or None if not claimable."""
    now = utcnow()
    with session_factory() as s, s.begin():
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "pending", Job.run_after <= now)
            .values(status="running", locked_by=worker, locked_at=now, attempts=Job.attempts + 1)
        )
        if not res.rowcount:  # type: ignore[attr-defined]
            return None
        attempts, kind, payload = s.execute(
            select(Job.attempts, Job.kind, Job.payload).where(Job.id == job_id)).one()
        return int(attempts), str(kind), dict(payload or {})


class LostClaim(RuntimeError):
    """The sweep gave the job to another worker while this one was still running it."""


def run_job(session_factory: sessionmaker[Session], job_id: int, worker: str = "inline") -> str:
    """Claim and run one job. Returns its status afterwards ("skipped" if someone else has it).

    The handler's writes and the ``done`` mark commit in one transaction, and the mark only applies while
    this worker still holds the claim (same ``locked_by`` and attempt): if the sweep re-drove the job
    because this worker looked dead, this run rolls back and the other run's effects are the only ones.
    """
    claimed = _claim(session_factory, job_id, worker)
    if claimed is None:
        return "skipped"
    attempt, kind, payload = claimed
    try:
        prepare = _PREPARE.get(kind)
        # the long part, with no transaction open: the handler below only writes its outcome
        prepared = prepare(session_factory, payload) if prepare is not None else None
        with session_factory() as s, s.begin():
            job = s.get(Job, job_id)
            assert job is not None
            fn = _HANDLERS.get(job.kind)
            if fn is None:
                raise LookupError(f"no handler registered for job kind {job.kind!r}")
            result = fn(s, job, prepared) if prepare is not None else fn(s, job)
            s.flush()
            s.expunge(job)
            done = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.locked_by == worker,
                       Job.attempts == attempt)
                .values(status="done", result=result, finished_at=utcnow(), last_error=None)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                raise LostClaim(f"job {job_id} was re-driven while attempt {attempt} was running")
        notify_committed(s)
        return "done"
    except LostClaim:
        log.warning("job claim lost; this run was rolled back", extra={"job_id": job_id, "attempt": attempt})
        return "skipped"
    except Exception as exc:  # the handler failed: record it and schedule a retry
        log.warning("job failed", extra={"job_id": job_id, "attempt": attempt, "error": type(exc).__name__})
        with session_factory() as s, s.begin():
            job = s.get(Job, job_id)
            assert job is not None
            if job.status != "running" or job.locked_by != worker or job.attempts != attempt:
                return "skipped"  # the sweep already handed it on
            job.last_error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
            job.locked_by = None
            job.locked_at = None
            if job.attempts >= job.max_attempts:
                job.status = "dead"
                job.finished_at = utcnow()
            else:
                job.status = "pending"
                job.run_after = utcnow() + retry_delay(job.attempts)
            return job.status


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff: 2, 4, 8 ... seconds after each failed attempt, at most ten minutes."""
    return dt.timedelta(seconds=min(2 ** attempts, 600))


def due_job_ids(session: Session, limit: int = 100) -> list[int]:
    rows = session.execute(
        select(Job.id).where(Job.status == "pending", Job.run_after <= utcnow()).order_by(Job.id).limit(limit)
    )
    return [r[0] for r in rows]


def run_pending(session_factory: sessionmaker[Session], worker: str = "inline", limit: int = 100) -> int:
    """Run every due job (used by the embedded worker and by tests). Returns how many ran."""
    with session_factory() as s:
        ids = due_job_ids(s, limit)
    ran = 0
    for job_id in ids:
        if run_job(session_factory, job_id, worker) != "skipped":
            ran += 1
    return ran


def sweep(session: Session, stale_after: dt.timedelta) -> int:
    """Return jobs whose worker vanished (lock older than ``stale_after``) to pending."""
    cutoff = utcnow() - stale_after
    res = session.execute(
        update(Job)
        .where(Job.status == "running", or_(Job.locked_at.is_(None), Job.locked_at < cutoff))
        .values(status="pending", locked_by=None, locked_at=None, last_error="re-driven by sweep")
    )
    return int(res.rowcount)  # type: ignore[attr-defined]


def counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: n for status, n in rows}



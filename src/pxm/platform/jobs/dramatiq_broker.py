"""Dramatiq on Redis: jobs are announced as messages; ``pxm worker`` consumes them and re-drives the outbox.

The outbox row stays the source of truth. A message only says "job N is ready": the consumer claims the row
and runs it exactly like the embedded worker does, so a lost, duplicated or late message is harmless. The
scheduler loop in ``pxm worker`` sweeps stale ``running`` rows and re-sends due ``pending`` rows whose
message may have been lost (Redis restart, a producer that died between commit and send).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.config import Settings
from pxm.platform.db.base import utcnow
from pxm.platform.jobs.models import Job
from pxm.platform.jobs.service import run_job
from pxm.platform.jobs.worker import run_sweep, worker_name

log = logging.getLogger("pxm.jobs.dramatiq")

ACTOR_NAME = "pxm_run_job"


class RedisNotConfigured(RuntimeError):
    pass


def heartbeat_key(settings: Settings) -> str:
    return f"{settings.redis_namespace}:pxm-worker-heartbeat"


class DramatiqJobs:
    """The broker, the ``pxm_run_job`` actor and the producer/scheduler helpers for one settings object.

    ``session_factory`` is needed only where messages are consumed (``pxm worker``)."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session] | None = None):
        if not settings.redis_url:
            raise RedisNotConfigured("jobs_mode=dramatiq needs Redis: set PXM_REDIS_URL "
                                     "(e.g. redis://127.0.0.1:6379/0) or use PXM_JOBS_MODE=embedded")
        self.settings = settings
        self.session_factory = session_factory
        self.name = worker_name("dramatiq")
        self.broker = RedisBroker(url=settings.redis_url, namespace=settings.redis_namespace)

        def pxm_run_job(job_id: int) -> None:
            self.consume(job_id)

        # Retries belong to the outbox (backoff, dead after max_attempts), not to Dramatiq. A handler that
        # outlives the stale window would be re-driven by the sweep anyway, so that is its time limit.
        self.actor: Any = dramatiq.actor(
            actor_name=ACTOR_NAME, queue_name=settings.jobs_queue, broker=self.broker,
            max_retries=0, time_limit=int(settings.jobs_stale_seconds * 1000),
        )(pxm_run_job)

    # -- producer ----------------------------------------------------------------------------------
    def send(self, job_ids: list[int]) -> None:
        """Announce committed jobs (the enqueue listener)."""
        for job_id in job_ids:
            self.actor.send(job_id)

    # -- consumer ----------------------------------------------------------------------------------
    def consume(self, job_id: int) -> str:
        assert self.session_factory is not None, "consuming needs a session factory"
        status = run_job(self.session_factory, job_id, worker=self.name)
        if status == "pending":  # failed, backoff scheduled: announce it again when it is due
            with self.session_factory() as s:
                run_after = s.execute(select(Job.run_after).where(Job.id == job_id)).scalar_one()
            delay_ms = max(0, int((run_after - utcnow()).total_seconds() * 1000))
            self.actor.send_with_options(args=(job_id,), delay=delay_ms)
        return status

    # -- scheduler ---------------------------------------------------------------------------------
    def resend_due(self, older_than: dt.timedelta, limit: int = 1000) -> int:
        """Re-send messages for pending jobs that have been due for longer than ``older_than``."""
        assert self.session_factory is not None
        cutoff = utcnow() - older_than
        with self.session_factory() as s:
            ids = list(s.execute(
                select(Job.id).where(Job.status == "pending", Job.run_after <= cutoff).order_by(Job.id)
                .limit(limit)).scalars())
        self.send(ids)
        if ids:
            log.info("re-sent due jobs", extra={"jobs": len(ids)})
        return len(ids)

    def beat(self) -> None:
        ttl = max(5, int(self.settings.jobs_poll_seconds * 5))
        self.broker.client.set(heartbeat_key(self.settings), utcnow().isoformat(), ex=ttl)

    def schedule_forever(self, stop: threading.Event) -> None:
        """Heartbeat every poll interval; sweep and re-send every sweep interval (first turn at once)."""
        assert self.session_factory is not None
        last_sweep: dt.datetime | None = None
        every = dt.timedelta(seconds=self.settings.jobs_sweep_seconds)
        while not stop.is_set():
            try:
                self.beat()
                now = utcnow()
                if last_sweep is None or now - last_sweep >= every:
                    run_sweep(self.session_factory, self.settings.jobs_stale_seconds)
                    self.resend_due(every)
                    last_sweep = now
            except Exception:
                log.exception("job scheduler turn failed")
            stop.wait(self.settings.jobs_poll_seconds)


class RedisWorkerProbe:
    """What ``/api/v1/health`` asks in dramatiq mode: is some ``pxm worker`` beating?"""

    def __init__(self, jobs: DramatiqJobs):
        self.jobs = jobs

    @property
    def last_heartbeat(self) -> dt.datetime | None:
        try:
            raw = self.jobs.broker.client.get(heartbeat_key(self.jobs.settings))
        except Exception:
            return None
        if raw is None:
            return None
        return dt.datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else str(raw))

    def is_alive(self) -> bool:
        return self.last_heartbeat is not None

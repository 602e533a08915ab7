"""Start and stop the job machinery with the web app (see ``create_app(start_worker=True)``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.config import Settings
from pxm.platform.jobs.service import add_enqueue_listener, remove_enqueue_listener
from pxm.platform.jobs.worker import EmbeddedWorker


def start_jobs(session_factory: sessionmaker[Session], settings: Settings) -> Any:
    """Embedded mode: start the worker thread. Dramatiq mode: announce committed jobs on Redis.

    Returns the object health reads (``is_alive()``, ``last_heartbeat``)."""
    if settings.jobs_mode == "embedded":
        return EmbeddedWorker(session_factory, settings).start()
    from pxm.platform.jobs.dramatiq_broker import DramatiqJobs, RedisWorkerProbe

    jobs = DramatiqJobs(settings)
    add_enqueue_listener(jobs.send)
    return RedisWorkerProbe(jobs)


def stop_jobs(worker: Any) -> None:
    if worker is None:
        return
    if isinstance(worker, EmbeddedWorker):
        worker.stop()
        return
    jobs = getattr(worker, "jobs", None)
    if jobs is not None:
        remove_enqueue_listener(jobs.send)
        jobs.broker.close()

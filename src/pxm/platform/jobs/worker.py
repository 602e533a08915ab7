"""The embedded worker: a daemon thread that runs due jobs and the sweep (``pxm serve`` in embedded mode).

It is also the loop of ``pxm worker --embedded``: a separate polling process for installs without Redis.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading

from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.config import Settings
from pxm.platform.db.base import utcnow
from pxm.platform.jobs.registry import load_task_modules
from pxm.platform.jobs.service import due_job_ids, run_job, sweep

log = logging.getLogger("pxm.jobs.worker")


def worker_name(kind: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{kind}"


def run_sweep(session_factory: sessionmaker[Session], stale_seconds: float) -> int:
    """Return running jobs whose lock is older than ``stale_seconds`` to pending (one transaction)."""
    with session_factory() as s, s.begin():
        n = sweep(s, dt.timedelta(seconds=stale_seconds))
    if n:
        log.warning("sweep re-drove stale jobs", extra={"jobs": n})
    return n


class EmbeddedWorker:
    """Polls due jobs every ``jobs_poll_seconds`` and sweeps every ``jobs_sweep_seconds``.

    ``last_heartbeat`` is set on every loop turn; ``/api/v1/health`` reports it. ``stop()`` lets the
    job in hand finish (its transaction commits or rolls back whole) and then joins the thread.
    """

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings, name: str | None = None):
        self.session_factory = session_factory
        self.settings = settings
        self.name = name or worker_name("embedded")
        self.last_heartbeat: dt.datetime | None = None
        self.last_sweep: dt.datetime | None = None
        self.jobs_run = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> EmbeddedWorker:
        load_task_modules(self.settings.job_modules)
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="pxm-embedded-worker", daemon=True)
        self._thread.start()
        log.info("embedded worker started", extra={"worker": self.name})
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("embedded worker still busy at shutdown", extra={"worker": self.name})
        log.info("embedded worker stopped", extra={"worker": self.name, "jobs_run": self.jobs_run})

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    # -- the loop ----------------------------------------------------------------------------------
    def tick(self) -> int:
        """One turn: sweep when it is due, then run every due job. Returns how many jobs ran."""
        now = utcnow()
        self.last_heartbeat = now
        sweep_every = dt.timedelta(seconds=self.settings.jobs_sweep_seconds)
        if self.last_sweep is None or now - self.last_sweep >= sweep_every:
            run_sweep(self.session_factory, self.settings.jobs_stale_seconds)
            self.last_sweep = now
        ran = 0
        while not self._stop.is_set():
            with self.session_factory() as s:
                ids = due_job_ids(s, limit=50)
            if not ids:
                break
            progressed = 0
            for job_id in ids:
                if self._stop.is_set():
                    break
                if run_job(self.session_factory, job_id, self.name) != "skipped":
                    progressed += 1
                self.last_heartbeat = utcnow()
            ran += progressed
            if not progressed:
                break
        self.jobs_run += ran
        return ran

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database outage must not kill the thread; health shows the gap
                log.exception("embedded worker turn failed", extra={"worker": self.name})
            self._stop.wait(self.settings.jobs_poll_seconds)

    def drain(self) -> int:
        """Sweep, then run due jobs until none is left (``pxm worker --embedded --drain``)."""
        load_task_modules(self.settings.job_modules)
        self.last_sweep = None
        total = 0
        while True:
            ran = self.tick()
            total += ran
            if not ran:
                return total

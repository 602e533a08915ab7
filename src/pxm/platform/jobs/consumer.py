"""The process side of ``pxm worker``: Dramatiq consumer processes plus the outbox scheduler."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from typing import Any

import dramatiq

from pxm.platform.config import Settings
from pxm.platform.db import engine_for, make_session_factory
from pxm.platform.jobs.dramatiq_broker import DramatiqJobs
from pxm.platform.jobs.registry import load_task_modules
from pxm.platform.jobs.worker import EmbeddedWorker
from pxm.platform.logs import configure_logging
from pxm.platform.people.crypto import configure_keyring

log = logging.getLogger("pxm.jobs.consumer")


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: Any) -> None:
        log.info("worker stopping", extra={"signal": signum})
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)


def _jobs(settings: Settings) -> DramatiqJobs:
    configure_keyring(settings.phi_key_path)
    load_task_modules(settings.job_modules)
    jobs = DramatiqJobs(settings, make_session_factory(engine_for(settings)))
    dramatiq.set_broker(jobs.broker)
    return jobs


def _consume(settings: Settings, threads: int, stop: threading.Event, scheduler: bool) -> None:
    jobs = _jobs(settings)
    worker = dramatiq.Worker(jobs.broker, queues={settings.jobs_queue}, worker_threads=threads)
    worker.start()
    log.info("dramatiq worker started", extra={"queue": settings.jobs_queue, "threads": threads,
                                                "scheduler": scheduler})
    try:
        if scheduler:
            jobs.schedule_forever(stop)
        else:
            while not stop.wait(1.0):
                pass
    finally:
        worker.stop()
        jobs.broker.close()
        log.info("dramatiq worker stopped")


def _child(settings_json: str, threads: int) -> None:
    settings = Settings.model_validate_json(settings_json)
    configure_logging(settings.log_level, settings.log_json)
    stop = threading.Event()
    _stop_on_signals(stop)
    _consume(settings, threads, stop, scheduler=False)


def run_dramatiq_worker(settings: Settings, processes: int = 1, threads: int = 8) -> None:
    """Block until SIGTERM/SIGINT: ``processes`` consumers, the first of which also runs the scheduler."""
    stop = threading.Event()
    _stop_on_signals(stop)
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_child, args=(settings.model_dump_json(), threads), daemon=False)
                for _ in range(processes - 1)]
    for child in children:
        child.start()
    try:
        _consume(settings, threads, stop, scheduler=True)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(30)


def run_embedded_worker(settings: Settings, drain: bool = False) -> int:
    """``pxm worker --embedded``: the polling loop in the foreground (no Redis). Returns jobs run."""
    configure_keyring(settings.phi_key_path)
    worker = EmbeddedWorker(make_session_factory(engine_for(settings)), settings)
    if drain:
        return worker.drain()
    stop = threading.Event()
    _stop_on_signals(stop)
    worker.start()
    while not stop.wait(1.0):
        pass
    worker.stop()
    return worker.jobs_run

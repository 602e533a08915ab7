"""Kill a worker in the middle of a job: afterwards the job is done and its effect exists exactly once.

The worker is a real process (``pxm worker``) on a committed database; the handler writes its effect and
then blocks until SIGKILL. Embedded (polling) worker always; Dramatiq on Redis when PXM_TEST_REDIS_URL is set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.config import Settings
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.jobs import enqueue
from pxm.platform.jobs.models import Job
from pxm.platform.jobs.service import notify_committed
from pxm.platform.jobs.worker import run_sweep

HERE = Path(__file__).parent
REDIS_URL = os.environ.get("PXM_TEST_REDIS_URL")
WAIT = 60.0  # generous upper bound for a subprocess to start and reach the job; not a performance figure


def _env(db_url: str, key_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PXM_DATABASE_URL": db_url, "PXM_KEY_DIR": str(key_dir), "PXM_JOB_MODULES": "jobs_fixture_handlers",
        "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        "PXM_JOBS_POLL_SECONDS": "0.1", "PXM_JOBS_STALE_SECONDS": "3600", "PXM_LOG_LEVEL": "WARNING",
    })
    env.update(extra)
    return env


def _pxm(*args: str, env: dict[str, str], tmp: Path) -> subprocess.Popen[bytes]:
    log = (tmp / f"worker-{uuid.uuid4().hex[:6]}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "pxm.cli.main", *args], env=env, stdout=log, stderr=log)


def _wait_for(predicate, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode} before {what}: "
                                 f"{Path(proc.stdout.name).read_text() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _job(sf: sessionmaker[Session], job_id: int) -> Job:
    with sf() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _effects(sf: sessionmaker[Session], job_id: int) -> int:
    import jobs_fixture_handlers

    with sf() as s:
        return jobs_fixture_handlers.effect_count(s, job_id)


def _enqueue(sf: sessionmaker[Session], tmp: Path) -> tuple[int, Path]:
    signal_file = tmp / "started"
    with sf() as s:
        with s.begin():
            job_id = enqueue(s, "test.effect_then_block", {"signal_file": str(signal_file)}).id
        notify_committed(s)
    return job_id, signal_file


def _kill_mid_job(proc: subprocess.Popen[bytes], signal_file: Path, sf: sessionmaker[Session], job_id: int):
    _wait_for(signal_file.exists, proc, "the handler to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(WAIT)
    job = _job(sf, job_id)
    assert job.status == "running" and job.attempts == 1
    assert _effects(sf, job_id) == 0, "the killed attempt's effect must not be committed"
    assert run_sweep(sf, stale_seconds=0) == 1


def _assert_done_once(sf: sessionmaker[Session], job_id: int) -> None:
    job = _job(sf, job_id)
    assert job.status == "done" and job.attempts == 2 and job.result == {"attempt": 2}
    assert _effects(sf, job_id) == 1


def test_embedded_worker_killed_mid_job(committed_db_url: str, key_dir: Path, tmp_path: Path):
    engine = make_engine(committed_db_url)
    sf = make_session_factory(engine)
    env = _env(committed_db_url, key_dir)
    job_id, signal_file = _enqueue(sf, tmp_path)

    _kill_mid_job(_pxm("worker", "--embedded", env=env, tmp=tmp_path), signal_file, sf, job_id)

    again = subprocess.run([sys.executable, "-m", "pxm.cli.main", "worker", "--embedded", "--drain"],
                           env=env, capture_output=True, text=True, timeout=WAIT)
    assert again.returncode == 0, again.stderr
    assert "ran 1 job(s)" in again.stdout
    _assert_done_once(sf, job_id)
    engine.dispose()


@pytest.mark.skipif(not REDIS_URL, reason="Dramatiq variant needs Redis: PXM_TEST_REDIS_URL is not set "
                                          "(CI sets it when Redis answers)")
def test_dramatiq_worker_killed_mid_job(committed_db_url: str, key_dir: Path, tmp_path: Path):
    from fastapi.testclient import TestClient

    from pxm.web.app import create_app

    assert REDIS_URL
    tag = f"pxm-test-{uuid.uuid4().hex[:10]}"
    redis_env = {"PXM_JOBS_MODE": "dramatiq", "PXM_REDIS_URL": REDIS_URL, "PXM_REDIS_NAMESPACE": tag,
                 "PXM_JOBS_QUEUE": tag, "PXM_JOBS_SWEEP_SECONDS": "0.2"}
    env = _env(committed_db_url, key_dir, **redis_env)
    engine = make_engine(committed_db_url)
    sf = make_session_factory(engine)
    settings = Settings(database_url=committed_db_url, key_dir=key_dir, jobs_mode="dramatiq", redis_url=REDIS_URL,
                        redis_namespace=tag, jobs_queue=tag)
    # The web app in dramatiq mode is the producer: its lifespan announces committed jobs on Redis.
    app = create_app(settings, engine=engine, start_worker=True)
    worker = None
    try:
        with TestClient(app) as client:
            before = client.get("/api/v1/health").json()["worker"]
            assert before["mode"] == "dramatiq" and before["running"] is False  # no pxm worker beating yet
            job_id, signal_file = _enqueue(sf, tmp_path)  # the commit sends the message
            _kill_mid_job(_pxm("worker", "--threads", "2", env=env, tmp=tmp_path), signal_file, sf, job_id)
            # The killed worker took the only message with it; the new worker's scheduler re-sends the job.
            worker = _pxm("worker", "--threads", "2", env=env, tmp=tmp_path)
            _wait_for(lambda: _job(sf, job_id).status == "done", worker, "the job to be done")
            health = client.get("/api/v1/health").json()["worker"]
            assert health["running"] is True and health["last_heartbeat"] is not None
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(WAIT) == 0
        _assert_done_once(sf, job_id)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{tag}:*"):  # only this test's keys
            client.delete(key)
        client.close()
        engine.dispose()


@pytest.mark.skipif(not REDIS_URL, reason="Dramatiq variant needs Redis: PXM_TEST_REDIS_URL is not set "
                                          "(CI sets it when Redis answers)")
def test_dramatiq_retry_is_announced_with_a_delay(committed_db_url: str, key_dir: Path, tmp_path: Path):
    """A failed job is retried through a delayed message, with no help from the sweep (1 hour away)."""
    from pxm.platform.jobs.dramatiq_broker import DramatiqJobs

    assert REDIS_URL
    tag = f"pxm-test-{uuid.uuid4().hex[:10]}"
    env = _env(committed_db_url, key_dir, PXM_JOBS_MODE="dramatiq", PXM_REDIS_URL=REDIS_URL,
               PXM_REDIS_NAMESPACE=tag, PXM_JOBS_QUEUE=tag, PXM_JOBS_SWEEP_SECONDS="3600")
    engine = make_engine(committed_db_url)
    sf = make_session_factory(engine)
    producer = DramatiqJobs(Settings(database_url=committed_db_url, key_dir=key_dir, jobs_mode="dramatiq",
                                     redis_url=REDIS_URL, redis_namespace=tag, jobs_queue=tag))
    worker = _pxm("worker", "--threads", "1", env=env, tmp=tmp_path)
    try:
        with sf() as s, s.begin():
            job_id = enqueue(s, "test.fail_once").id
        producer.send([job_id])
        _wait_for(lambda: _job(sf, job_id).status == "done", worker, "the retried job to be done")
        job = _job(sf, job_id)
        assert job.attempts == 2 and job.result == {"attempt": 2}
        assert _effects(sf, job_id) == 1  # the failed attempt's write was rolled back
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(WAIT) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        for key in producer.broker.client.scan_iter(match=f"{tag}:*"):
            producer.broker.client.delete(key)
        producer.broker.close()
        engine.dispose()

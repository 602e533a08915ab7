"""``/api/v1/health``: database and worker status, 503 when the database is unreachable."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from pxm.platform.config import Settings
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.jobs import enqueue, handler
from pxm.platform.jobs.models import Job
from pxm.web.app import create_app

WAIT = 30.0  # upper bound for the worker thread to pick a job up; not a performance figure


@handler("test.health.noop")
def _noop(session, job):
    return {"seen": job.id}


def test_healthy_database_and_no_worker(client):
    resp = client.get("/api/v1/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok" and body["database"]["status"] == "ok"
    assert body["worker"]["mode"] == "embedded"
    assert body["worker"]["running"] is False and body["worker"]["last_heartbeat"] is None


def test_pending_and_dead_jobs_are_counted(client, db):
    enqueue(db, "test.health.noop")
    dead = enqueue(db, "test.health.noop")
    dead.status = "dead"
    db.commit()
    worker = client.get("/api/v1/health").json()["worker"]
    assert worker["pending_jobs"] == 1 and worker["dead_jobs"] == 1
    assert worker["oldest_pending_seconds"] is not None and worker["oldest_pending_seconds"] >= 0


def test_embedded_worker_runs_with_the_app(committed_db_url: str, key_dir: Path):
    settings = Settings(database_url=committed_db_url, key_dir=key_dir, jobs_poll_seconds=0.05)
    engine = make_engine(committed_db_url)
    sf = make_session_factory(engine)
    app = create_app(settings, engine=engine, start_worker=True)
    with TestClient(app) as c:
        body = c.get("/api/v1/health").json()
        assert body["worker"]["running"] is True
        with sf() as s, s.begin():
            job_id = enqueue(s, "test.health.noop").id
        deadline = time.monotonic() + WAIT
        while True:
            with sf() as s:
                status = s.execute(select(Job.status).where(Job.id == job_id)).scalar_one()
            if status == "done" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == "done"
        body = c.get("/api/v1/health").json()
        assert body["worker"]["last_heartbeat"] is not None and body["worker"]["pending_jobs"] == 0
        worker = app.state.worker
    assert worker.is_alive() is False  # the lifespan stopped it with the app
    engine.dispose()


def test_unreachable_database_is_degraded(key_dir: Path):
    # Nothing listens on port 1: every connection attempt is refused.
    url = "postgresql+psycopg://pxm@127.0.0.1:1/pxm?connect_timeout=2"
    app = create_app(Settings(database_url=url, key_dir=key_dir), engine=make_engine(url))
    with TestClient(app) as c:
        resp = c.get("/api/v1/health")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "degraded" and body["database"]["status"] == "error"
    assert "127.0.0.1" not in resp.text  # no connection details leak to a public endpoint

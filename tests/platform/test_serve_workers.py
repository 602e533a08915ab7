"""``pxm serve --workers 2``: two processes serve one database, writes from both commit and the audit chain
stays intact; on SQLite the processes queue for the write lock through a lock file next to the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import text
from tests.helpers.server import free_port

from pxm.platform.audit import verify_chain
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_api_token, create_user
from pxm.platform.db import make_engine, make_session_factory

WAIT = 180.0  # generous bound for two worker processes to import and start on a busy machine; not a timing figure


def _spawned_children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


def test_two_workers_share_the_load_and_the_audit_chain(committed_db_url, key_dir, tmp_path):
    engine = make_engine(committed_db_url)
    sf = make_session_factory(engine)
    with sf() as s, s.begin():
        user = create_user(s, Actor.system("tests"), username="serve-admin", display_name="Admin", role="admin",
                           password="serve-password-123456")
        token, _ = create_api_token(s, Actor.system("tests"), user, "tests")
    port = free_port()
    env = dict(os.environ, PXM_DATABASE_URL=committed_db_url, PXM_KEY_DIR=str(key_dir), PXM_LOG_LEVEL="INFO",
               PXM_JOBS_POLL_SECONDS="0.2")
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "pxm.cli.main", "serve", "--workers", "2", "--port", str(port)],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "server did not start: " + log.read_text()
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200 \
                        and len(_spawned_children(proc.pid)) == 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}

        def create(i: int) -> int:
            r = httpx.post(base + "/api/v1/patients", headers=headers, timeout=60,
                           json={"mrn": f"W-{i:04d}", "given_name": "Worker", "family_name": f"Test{i}"})
            return r.status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(create, range(60)))
        assert statuses == [201] * 60
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    with sf() as s:
        patients = s.execute(text("SELECT count(*) FROM patients")).scalar_one()
        report = verify_chain(s)
        created = s.execute(text("SELECT count(*) FROM audit_events WHERE action = 'patient.create'")).scalar_one()
    engine.dispose()
    assert report.intact, report
    assert patients == created == 60
    assert "Traceback" not in log.read_text()

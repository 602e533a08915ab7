"""Job handlers for the worker tests, importable by a worker subprocess (PXM_JOB_MODULES=jobs_fixture_handlers).

``test.effect_then_block`` writes its effect (an audit event naming the job), flushes it, and on the first
attempt signals the test through a file and then blocks until the process is killed. Later attempts
finish normally, so the job's effect can only ever be committed together with its ``done`` mark.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.platform.audit import record
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs import handler
from pxm.platform.jobs.models import Job

EFFECT_ACTION = "test.job_effect"


@handler("test.effect_then_block")
def effect_then_block(session: Session, job: Job) -> dict[str, int]:
    record(session, Actor.system("test-worker"), EFFECT_ACTION, "job", job.id)
    session.flush()
    if job.attempts == 1:
        Path(job.payload["signal_file"]).write_text(str(os.getpid()))
        time.sleep(600)  # the test kills the process here
    return {"attempt": job.attempts}


def effect_count(session: Session, job_id: int) -> int:
    return int(session.execute(
        select(func.count()).where(AuditEvent.action == EFFECT_ACTION, AuditEvent.resource_id == str(job_id))
    ).scalar_one())


@handler("test.fail_once")
def fail_once(session: Session, job: Job) -> dict[str, int]:
    """Fails its first attempt (after writing, so the write must roll back), succeeds on the second."""
    record(session, Actor.system("test-worker"), EFFECT_ACTION, "job", job.id)
    session.flush()
    if job.attempts == 1:
        raise RuntimeError("first attempt fails on purpose")
    return {"attempt": job.attempts}

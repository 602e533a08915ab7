"""Routing jobs: ``routing.sweep_queue`` re-evaluates waiting cases (scheduled while cases wait)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pxm.operations.routing.service import SWEEP_KIND, reroute_queue
from pxm.platform import jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs.models import Job


@jobs.handler(SWEEP_KIND)
def sweep_queue(session: Session, job: Job) -> dict[str, Any]:
    """Assign what can be assigned now; the sweep schedules its next run itself while cases still wait."""
    return reroute_queue(session, Actor.system("routing.sweep"))

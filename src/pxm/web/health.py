"""``/api/v1/health``: database and worker status (public, no PHI)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text

from pxm import __version__
from pxm.platform.db.base import utcnow
from pxm.platform.jobs.models import Job

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/health", summary="Database and worker status", openapi_extra={"x-pxm-public": True})
def health(request: Request) -> JSONResponse:
    state = request.app.state
    out: dict[str, Any] = {"status": "ok", "version": __version__}
    try:
        with state.session_factory() as s:
            s.execute(text("SELECT 1"))
            oldest = s.execute(
                select(func.min(Job.run_after)).where(Job.status == "pending")
            ).scalar_one_or_none()
            pending = s.execute(select(func.count()).where(Job.status == "pending")).scalar_one()
            dead = s.execute(select(func.count()).where(Job.status == "dead")).scalar_one()
        out["database"] = {"status": "ok", "dialect": state.engine.dialect.name}
    except Exception as exc:  # report, don't crash: this is what operators poll
        out["status"] = "degraded"
        out["database"] = {"status": "error", "error": type(exc).__name__}
        return JSONResponse(out, status_code=503)
    worker = getattr(state, "worker", None)
    heartbeat = getattr(worker, "last_heartbeat", None)
    lag = None
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        lag = max(0.0, (utcnow() - oldest).total_seconds())
    out["worker"] = {
        "mode": state.settings.jobs_mode,
        "running": bool(worker and worker.is_alive()),
        "last_heartbeat": heartbeat.isoformat() if heartbeat else None,
        "pending_jobs": int(pending),
        "dead_jobs": int(dead),
        "oldest_pending_seconds": lag,
    }
    return JSONResponse(out)

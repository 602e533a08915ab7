"""JSON API for the closed loop under /api/v1/feedback/recovery."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.practices.feedback.loop import metrics, service

router = APIRouter(prefix="/api/v1/feedback/recovery", tags=["closed loop"])


class CloseLoop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action_taken: str = Field(min_length=5, max_length=4000, description="What was done for the patient")
    resolution_code: str = "complaint_resolved"


@router.get("/queue", summary="Open service-recovery cases, oldest first, with age and SLA")
def queue(db: Session = DB, actor: Actor = Depends(require(Permission.cases_read))) -> list[dict[str, Any]]:
    return metrics.open_queue(db)


@router.get("/metrics", summary="Loop-closure rate and time to close, by trigger and department")
def loop_metrics(db: Session = DB, actor: Actor = Depends(require(Permission.metrics_read)),
                 since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, Any]:
    return metrics.loop_metrics(db, since=since, until=until)


@router.post("/{case_id}/close", summary="Close the loop: resolve the recovery case with what was done")
def close(case_id: int, body: CloseLoop, db: Session = DB,
          actor: Actor = Depends(require(Permission.cases_write))) -> dict[str, Any]:
    case = service.close_recovery(db, actor, case_id, action_taken=body.action_taken,
                                  resolution_code=body.resolution_code)
    return {"case_id": case.id, "status": case.status, "resolved_at": case.resolved_at,
            "resolution_code": case.resolution_code}

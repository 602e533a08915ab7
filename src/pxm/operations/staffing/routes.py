"""Staffing JSON API: the Erlang C calculator and the per-hour-of-week proposal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from pxm.operations.staffing.erlang import StaffingInputError, calculate
from pxm.operations.staffing.service import propose
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import BadRequest

router = APIRouter(prefix="/api/v1/staffing", tags=["staffing"])
StaffingRead = Depends(require(Permission.staffing_read))


@router.get("/erlang-c", summary="Erlang C: agents, P(wait), service level, ASA, occupancy")
def erlang_c(
    contacts: float = Query(..., ge=0, description="contacts offered per interval"),
    interval_minutes: float = Query(30, gt=0, le=1440),
    aht_seconds: float = Query(..., gt=0, description="average handle time in seconds"),
    target_seconds: float = Query(20, ge=0, description="answer-time target in seconds"),
    service_level: float = Query(0.8, gt=0, lt=1, description="target share answered within target_seconds"),
    agents: int | None = Query(None, ge=1, le=100_000, description="evaluate this staffing; omit to find the fewest"),
    shrinkage: float | None = Query(None, ge=0, lt=1, description="share of paid time off the phones"),
    actor: Actor = StaffingRead,
) -> dict[str, Any]:
    try:
        return calculate(contacts, interval_minutes, aht_seconds, target_seconds, service_level,
                         agents=agents, shrinkage=shrinkage).to_dict()
    except StaffingInputError as exc:
        raise BadRequest(str(exc)) from None


@router.get("/proposal", summary="Agents per hour of the week from the inbound phone/chat history")
def proposal(
    weeks: int = Query(8, ge=1, le=104, description="weeks of history to average"),
    target_seconds: float = Query(20, ge=0),
    service_level: float = Query(0.8, gt=0, lt=1),
    shrinkage: float = Query(0.3, ge=0, lt=1),
    aht_seconds: float | None = Query(None, gt=0, description="override the AHT measured in the history"),
    timezone: str = Query("UTC", max_length=64, description="IANA time zone of the hours, e.g. America/New_York"),
    db: Session = DB,
    actor: Actor = StaffingRead,
) -> dict[str, Any]:
    try:
        return propose(db, weeks=weeks, target_seconds=target_seconds, target_service_level=service_level,
                       shrinkage=shrinkage, aht_seconds=aht_seconds, timezone=timezone).to_dict()
    except StaffingInputError as exc:
        raise BadRequest(str(exc)) from None

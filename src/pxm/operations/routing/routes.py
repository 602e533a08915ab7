"""Routing JSON API: decisions and their explanations, supervisor reassignment, settings, the queue sweep."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from pxm.operations.routing import service
from pxm.operations.routing.schemas import (
    AgentRead,
    HandBackBody,
    HandBackRead,
    ReassignBody,
    RoutingDecisionRead,
    RoutingSettingsRead,
    RoutingSettingsUpdate,
)
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import BadRequest, Conflict
from pxm.platform.people import service as people

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
CasesRead = Depends(require(Permission.cases_read))
CasesWrite = Depends(require(Permission.cases_write))
CasesAssign = Depends(require(Permission.cases_assign))


@router.get("/decisions", response_model=list[RoutingDecisionRead],
            summary="Routing decisions with their explanations (newest first, or one case's history)")
def list_decisions(case_id: int | None = Query(None, gt=0), limit: int = Query(50, ge=1, le=500),
                   db: Session = DB, actor: Actor = CasesRead) -> list[RoutingDecisionRead]:
    rows = service.decisions_for_case(db, case_id) if case_id else service.recent_decisions(db, limit)
    return [RoutingDecisionRead.model_validate(r) for r in rows]


@router.post("/cases/{case_id}/reassign", response_model=RoutingDecisionRead,
             summary="A supervisor moves a case to another agent (audited)")
def reassign(case_id: int, body: ReassignBody, db: Session = DB,
             actor: Actor = CasesAssign) -> RoutingDecisionRead:
    return RoutingDecisionRead.model_validate(service.reassign(db, actor, case_id, body.staff_id, note=body.note))


@router.post("/cases/{case_id}/take", response_model=RoutingDecisionRead,
             summary="Take a waiting case yourself (an agent pulls it from the queue; audited)")
def take(case_id: int, db: Session = DB, actor: Actor = CasesWrite) -> RoutingDecisionRead:
    staff = people.staff_of(db, actor)
    if staff is None:
        raise Conflict("you have no staff profile to take cases with: an administrator links your sign-in to one "
                       "(user_id on the staff record)")
    return RoutingDecisionRead.model_validate(service.take(db, actor, case_id, staff))


@router.post("/agents/{staff_id}/hand-back", response_model=HandBackRead,
             summary="Hand an agent's open cases back to routing (the agent is away; audited)")
def hand_back(staff_id: int, body: HandBackBody | None = None, db: Session = DB,
              actor: Actor = CasesAssign) -> HandBackRead:
    return HandBackRead.model_validate(service.hand_back(db, actor, staff_id, note=body.note if body else None))


@router.post("/sweep", summary="Re-evaluate the waiting cases now (the periodic sweep does this too)")
def sweep(db: Session = DB, actor: Actor = CasesAssign) -> dict[str, Any]:
    return service.reroute_queue(db, actor)


@router.get("/agents", response_model=list[AgentRead], summary="Agents as the router sees them (load, skills)")
def agents(db: Session = DB, actor: Actor = CasesRead) -> list[AgentRead]:
    return [AgentRead(staff_id=a.staff_id, name=a.name, status=a.status, team=a.team, load=a.load,
                      capacity=a.capacity, reasons=sorted(a.reasons), languages=sorted(a.languages),
                      channels=sorted(a.channels), idle_since=a.idle_since)
            for a in service.load_agents(db, available_only=False)]


@router.get("/settings", response_model=RoutingSettingsRead, summary="Routing settings (wait before widening)")
def get_settings(db: Session = DB, actor: Actor = CasesRead) -> RoutingSettingsRead:
    return RoutingSettingsRead.model_validate(service.get_routing_settings(db))


@router.patch("/settings", response_model=RoutingSettingsRead, summary="Change the routing settings (audited)")
def patch_settings(body: RoutingSettingsUpdate, db: Session = DB,
                   actor: Actor = CasesAssign) -> RoutingSettingsRead:
    values = body.model_dump(exclude_none=True)
    if not values:
        raise BadRequest("give at least one setting to change")
    return RoutingSettingsRead.model_validate(service.update_routing_settings(db, actor, **values))

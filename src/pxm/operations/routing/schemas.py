"""Routing API shapes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RoutingDecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    case_id: int
    staff_id: int | None
    previous_staff_id: int | None
    kind: str
    step: int
    candidates: int
    basis: str
    explanation: str
    requirements: dict[str, Any]
    actor: str
    decided_at: dt.datetime


class ReassignBody(BaseModel):
    staff_id: int = Field(gt=0, description="the agent who takes the case")
    note: str | None = Field(None, max_length=300, description="why (kept with the decision)")


class HandBackBody(BaseModel):
    note: str | None = Field(None, max_length=300, description="why (kept with each decision)")


class HandBackMove(BaseModel):
    case_id: int
    staff_id: int | None = Field(description="the agent who now has the case; null: back in the queue")
    agent: str | None
    explanation: str


class HandBackRead(BaseModel):
    staff_id: int
    agent: str
    cases: int = Field(description="open cases the agent had")
    reassigned: int = Field(description="of them, now with another agent")
    queued: int = Field(description="of them, back in the queue (nobody qualified now; the sweep routes them)")
    moves: list[HandBackMove]


class RoutingSettingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    step1_after_seconds: int
    step2_after_seconds: int
    sweep_interval_seconds: int
    sweep_batch: int


class RoutingSettingsUpdate(BaseModel):
    step1_after_seconds: int | None = Field(None, ge=1, le=86_400)
    step2_after_seconds: int | None = Field(None, ge=1, le=86_400)
    sweep_interval_seconds: int | None = Field(None, ge=1, le=3_600)
    sweep_batch: int | None = Field(None, ge=1, le=10_000)


class AgentRead(BaseModel):
    staff_id: int
    name: str
    status: str
    team: str | None
    load: int
    capacity: int
    reasons: list[str]
    languages: list[str]
    channels: list[str]
    idle_since: dt.datetime

"""Builders for operations tests: agents with skills and status, patients with a language, cases."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.people import service as people
from pxm.platform.people.models import Patient, Staff
from pxm.platform.people.schemas import PatientCreate

_seq = itertools.count(1)


@pytest.fixture
def system() -> Actor:
    return Actor.system("test")


@pytest.fixture
def make_patient(db: Session, system: Actor) -> Callable[..., Patient]:
    def make(language: str = "en") -> Patient:
        n = next(_seq)
        return people.create_patient(db, system, PatientCreate(
            mrn=f"OPS-{n:06d}", given_name="Test", family_name=f"Patient{n}", preferred_language=language))
    return make


@pytest.fixture
def make_agent(db: Session) -> Callable[..., Staff]:
    """An agent row with exactly the skills and state a test needs (idle for ``idle_minutes``)."""

    def make(name: str | None = None, *, reasons: tuple[str, ...] = ("billing",), languages: tuple[str, ...] = ("en",),
             channels: tuple[str, ...] = (), status: str = "available", capacity: int = 5, team: str | None = None,
             idle_minutes: float = 10) -> Staff:
        n = next(_seq)
        staff = Staff(username=f"ops-agent-{n}", display_name=name or f"Agent {n}", job_role="agent", team=team,
                      languages=list(languages), reasons=list(reasons), channels=list(channels),
                      capacity=capacity, status=status, active=True,
                      status_since=utcnow() - dt.timedelta(minutes=idle_minutes))
        db.add(staff)
        db.flush()
        return staff
    return make


@pytest.fixture
def open_case(db: Session, system: Actor) -> Callable[..., Any]:
    """Open a case through the service desk (which routes it)."""
    from pxm.practices.resolution import service as resolution

    def make(patient: Patient, reason: str = "billing", *, priority: str = "normal", channel: str | None = "phone",
             opened_minutes_ago: float = 0, route: bool = True) -> Any:
        return resolution.open_case(db, system, patient_id=patient.id, reason=reason, priority=priority,
                                    channel=channel, route=route,
                                    opened_at=utcnow() - dt.timedelta(minutes=opened_minutes_ago))
    return make

"""Builders for service-desk tests: patients and agents made through the people service."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.people import service as people
from pxm.platform.people.models import Patient, Staff
from pxm.platform.people.schemas import PatientCreate, StaffCreate

_seq = itertools.count(1)



@pytest.fixture
def actor() -> Actor:
    return Actor.system("test")


@pytest.fixture
def make_patient(db: Session, actor: Actor):  # type: ignore[no-untyped-def]
    def make(mrn: str | None = None) -> Patient:
        n = next(_seq)
        return people.create_patient(db, actor, PatientCreate(mrn=mrn or f"T-{n:06d}", given_name="Test",
                                                                family_name=f"Patient{n}"))
    return make


@pytest.fixture
def make_agent(db: Session, actor: Actor):  # type: ignore[no-untyped-def]
    def make(username: str | None = None, team: str | None = "front-desk", job_role: str = "agent") -> Staff:
        n = next(_seq)
        return people.create_staff(db, actor, StaffCreate(username=username or f"agent{n}",
                                                          display_name=f"Agent {n}", job_role=job_role, team=team))
    return make

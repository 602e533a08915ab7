"""Fixtures for feedback tests: patients with consent, a department, the system actor."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

import pxm.schema  # noqa: F401  (every model, as in the running app: the closed loop links to complaints)
from pxm.platform.auth.actor import Actor
from pxm.platform.people.models import Encounter, OrgUnit, Patient
from pxm.platform.people.service import email_index, mrn_index
from pxm.practices.feedback import tasks as _tasks  # noqa: F401  (registers the job handlers)

_counter = itertools.count(1)


@pytest.fixture
def actor() -> Actor:
    return Actor.system("test")


@pytest.fixture
def department(db: Session) -> OrgUnit:
    unit = OrgUnit(code=f"DEP{next(_counter)}", name="Cardiology", kind="department")
    db.add(unit)
    db.flush()
    return unit


@pytest.fixture
def make_patient(db: Session) -> Callable[..., Patient]:
    def make(**kw: Any) -> Patient:
        n = next(_counter)
        mrn = f"FB{n:06d}"
        email = kw.pop("email", f"patient{n}@example.org")
        values: dict[str, Any] = dict(
            mrn=mrn, mrn_index=mrn_index(mrn), given_name="Ana", family_name=f"Test{n}", birth_year=1970,
            sex="F", email=email, email_index=email_index(email) if email else None, phone="+15550100100",
            preferred_language="en", preferred_channel="email", consent_email=True, consent_sms=True,
            consent_surveys=True, conditions=[],
        )
        values.update(kw)
        p = Patient(**values)
        db.add(p)
        db.flush()
        return p

    return make


@pytest.fixture
def make_encounter(db: Session, department: OrgUnit) -> Callable[..., Encounter]:
    def make(patient: Patient, **kw: Any) -> Encounter:
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = dict(patient_id=patient.id, type="inpatient", department_id=department.id,
                                      admit_at=now - dt.timedelta(days=3), discharge_at=now, wait_minutes=20)
        values.update(kw)
        enc = Encounter(**values)
        db.add(enc)
        db.flush()
        return enc

    return make

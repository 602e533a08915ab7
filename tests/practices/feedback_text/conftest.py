"""Fixtures for the feedback text tests: patients, a department, responses and signed-in clients."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.people.models import OrgUnit, Patient
from pxm.platform.people.service import email_index, mrn_index
from pxm.practices.feedback.models import Response
from pxm.practices.feedback.service import record_response
from pxm.practices.feedback.text import tasks as _tasks  # noqa: F401  (registers the job handler)

_seq = itertools.count(1)


@pytest.fixture
def actor() -> Actor:
    return Actor.system("test")


@pytest.fixture
def department(db: Session) -> OrgUnit:
    unit = OrgUnit(code=f"FBT{next(_seq)}", name="Emergency", kind="department")
    db.add(unit)
    db.flush()
    return unit


@pytest.fixture
def make_patient(db: Session) -> Callable[..., Patient]:
    def make(given: str = "Rosalind", family: str | None = None) -> Patient:
        n = next(_seq)
        mrn = f"TX{n:07d}"
        email = f"fbt{n}@example.org"
        p = Patient(mrn=mrn, mrn_index=mrn_index(mrn), given_name=given, family_name=family or f"Quillfeather{n}",
                    birth_year=1970, sex="F", email=email, email_index=email_index(email), phone="+15550100100",
                    preferred_language="en", preferred_channel="email", consent_email=True, consent_surveys=True,
                    conditions=[])
        db.add(p)
        db.flush()
        return p

    return make


@pytest.fixture
def respond(db: Session, actor: Actor, department: OrgUnit) -> Callable[..., Response]:
    """Record a complete response to a built-in instrument (hooks run: analysis job + closed-loop check)."""

    def make(instrument: str, answers: dict[str, Any], patient: Patient | None = None, **kw: Any) -> Response:
        return record_response(db, actor, instrument=instrument, answers=answers,
                               patient_id=patient.id if patient else None, department_id=department.id,
                               submitted_at=kw.pop("submitted_at", dt.datetime.now(dt.UTC)), **kw)

    return make

"""Patients and encounters: the business functions. Services flush, never commit.

Every function that returns decrypted patient fields writes an audit event with ``patient_id`` in the
caller's transaction. Audit details hold field *names* and counts, never values. Org units and staff live in
``people.org`` and are re-exported here so callers have one import: ``from pxm.platform.people import service``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.platform.audit import record
from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import BadRequest, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404
from pxm.platform.http.pagination import PageParams
from pxm.platform.jobs import enqueue
from pxm.platform.people.crypto import blind_index
from pxm.platform.people.models import Encounter, OrgUnit, Patient, Staff
from pxm.platform.people.org import (  # noqa: F401  (re-exported)
    create_org_unit,
    create_staff,
    deactivate_staff,
    delete_org_unit,
    get_org_unit,
    get_staff,
    get_staff_by_user,
    list_org_units,
    list_staff,
    set_staff_status,
    staff_of,
    update_org_unit,
    update_staff,
)
from pxm.platform.people.schemas import (
    EncounterCreate,
    PatientCreate,
    PatientSummary,
    PatientUpdate,
)

ENCOUNTER_DISCHARGED = "people.encounter_discharged"  # job kind: the event "encounter discharged"
# HMAC "purposes": the same strings must be used by anything that writes patients in bulk (pxm.synth).
MRN_PURPOSE = "patients.mrn"
EMAIL_PURPOSE = "patients.email"
# Safe-harbor: 3-digit ZIPs covering fewer than 20,000 people are reported as 000.
RESTRICTED_ZIP3 = frozenset({"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830",
                             "831", "878", "879", "884", "890", "893"})
TOP_CODED_AGE = 90  # ages 90 and over are reported as one group (birth_year = this year - 90)

SUMMARY_COLUMNS = (Patient.id, Patient.birth_year, Patient.sex, Patient.zip3, Patient.preferred_language,
                   Patient.preferred_channel, Patient.conditions, Patient.home_facility_id)


def mrn_index(mrn: str) -> str:
    return blind_index(mrn, MRN_PURPOSE)


def email_index(email: str) -> str:
    return blind_index(email, EMAIL_PURPOSE)


def birth_year_of(birth_date: dt.date | str | None, today: dt.date | None = None) -> int | None:
    """The de-identified birth year, top-coded so that everyone 90 or older shares one value."""
    if birth_date is None:
        return None
    year = birth_date.year if isinstance(birth_date, dt.date) else int(str(birth_date)[:4])
    this_year = (today or dt.date.today()).year
    return max(year, this_year - TOP_CODED_AGE)


def zip3_of(zip_code: str | None) -> str | None:
    if not zip_code:
        return None
    z3 = zip_code[:3]
    return "000" if z3 in RESTRICTED_ZIP3 else z3


def _check_ref(session: Session, model: type[Any], ident: int | None, field: str, what: str) -> None:
    if ident is not None and session.get(model, ident) is None:
        raise BadRequest(f"{field}: no {what} with id {ident}", details=[{"field": field, "problem": "not found"}])


def _phi_fields(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if out.get("birth_date") is not None:
        out["birth_date"] = out["birth_date"].isoformat()
    return out


# --- patients -------------------------------------------------------------------------------------------

def create_patient(session: Session, actor: Actor, data: PatientCreate) -> Patient:
    """Seal and store a patient. 409 if the MRN is already on file; audited as ``patient.create``."""
    idx = mrn_index(data.mrn)
    if session.execute(select(Patient.id).where(Patient.mrn_index == idx)).first() is not None:
        raise Conflict("mrn: a patient with this MRN already exists; search for them instead",
                       details=[{"field": "mrn", "problem": "duplicate"}])
    _check_ref(session, OrgUnit, data.home_facility_id, "home_facility_id", "org unit")
    values = _phi_fields(data.model_dump())
    patient = Patient(
        **values, mrn_index=idx, email_index=email_index(data.email) if data.email else None,
        birth_year=birth_year_of(data.birth_date), zip3=zip3_of(data.zip_code),
    )
    session.add(patient)
    session.flush()
    given = sorted(k for k in data.model_fields_set)
    record(session, actor, "patient.create", "patient", patient.id, patient_id=patient.id,
           details={"fields": given})
    return patient


def get_patient(session: Session, actor: Actor, patient_id: int, *, purpose: str | None = None) -> Patient:
    """Return the patient with PHI decrypted; writes a ``patient.read`` audit event."""
    patient = get_or_404(session, Patient, patient_id, "patient")
    details = {"purpose": purpose} if purpose else {}
    record(session, actor, "patient.read", "patient", patient.id, patient_id=patient.id, details=details)
    return patient


def find_patient_by_mrn(session: Session, actor: Actor, mrn: str) -> Patient | None:
    """Exact lookup through the HMAC index (the MRN itself is never compared or logged). Audited."""
    patient = session.execute(select(Patient).where(Patient.mrn_index == mrn_index(mrn))).scalar_one_or_none()
    if patient is None:
        record(session, actor, "patient.lookup", "patient", None, outcome="not_found", details={"by": "mrn"})
        return None
    record(session, actor, "patient.read", "patient", patient.id, patient_id=patient.id, details={"by": "mrn"})
    return patient


def find_patients_by_email(session: Session, actor: Actor, email: str) -> list[Patient]:
    """Every patient sharing this email (families often do). One audit event per patient returned."""
    rows = list(session.execute(
        select(Patient).where(Patient.email_index == email_index(email)).order_by(Patient.id)
    ).scalars())
    if not rows:
        record(session, actor, "patient.lookup", "patient", None, outcome="not_found", details={"by": "email"})
    for p in rows:
        record(session, actor, "patient.read", "patient", p.id, patient_id=p.id, details={"by": "email"})
    return rows


def find_patient_by_email(session: Session, actor: Actor, email: str) -> Patient | None:
    """The first (oldest) patient with this email, or None. Audited like ``find_patients_by_email``."""
    rows = find_patients_by_email(session, actor, email)
    return rows[0] if rows else None


_REQUIRED = ("mrn", "given_name", "family_name", "preferred_language", "preferred_channel",
             "consent_email", "consent_sms", "consent_phone", "consent_surveys", "conditions")


def update_patient(session: Session, actor: Actor, patient_id: int, data: PatientUpdate) -> Patient:
    """Change the given fields. Audited as ``patient.update`` with the field names only."""
    fields = sorted(data.model_fields_set)
    if not fields:
        raise BadRequest("give at least one field to change")
    values = data.model_dump(include=set(fields))
    for name in _REQUIRED:
        if name in values and values[name] is None:
            raise BadRequest(f"{name}: cannot be empty", details=[{"field": name, "problem": "required"}])
    patient = get_or_404(session, Patient, patient_id, "patient")
    if "mrn" in values:
        idx = mrn_index(values["mrn"])
        clash = session.execute(select(Patient.id).where(Patient.mrn_index == idx, Patient.id != patient_id)).first()
        if clash is not None:
            raise Conflict("mrn: another patient already has this MRN",
                           details=[{"field": "mrn", "problem": "duplicate"}])
        patient.mrn_index = idx
    if "home_facility_id" in values:
        _check_ref(session, OrgUnit, values["home_facility_id"], "home_facility_id", "org unit")
    if "email" in values:
        patient.email_index = email_index(values["email"]) if values["email"] else None
    if "birth_date" in values:
        patient.birth_year = birth_year_of(values["birth_date"])
    if "zip_code" in values:
        patient.zip3 = zip3_of(values["zip_code"])
    for name, value in _phi_fields(values).items():
        setattr(patient, name, value)
    session.flush()
    record(session, actor, "patient.update", "patient", patient.id, patient_id=patient.id,
           details={"fields": fields})
    return patient


def list_patients(
    session: Session, params: PageParams, *, language: str | None = None, channel: str | None = None,
    sex: str | None = None, home_facility_id: int | None = None,
) -> tuple[list[PatientSummary], int]:
    """De-identified page of patients (no PHI is selected, so nothing to audit)."""
    stmt = select(*SUMMARY_COLUMNS)
    if language:
        stmt = stmt.where(Patient.preferred_language == language)
    if channel:
        stmt = stmt.where(Patient.preferred_channel == channel)
    if sex:
        stmt = stmt.where(Patient.sex == sex.upper())
    if home_facility_id is not None:
        stmt = stmt.where(Patient.home_facility_id == home_facility_id)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(Patient.id).limit(params.limit).offset(params.offset)).all()
    return [PatientSummary.model_validate(dict(r._mapping)) for r in rows], int(total)


def get_patient_summary(session: Session, patient_id: int) -> PatientSummary:
    """The de-identified view of one patient (no audit: it holds no PHI)."""
    row = session.execute(select(*SUMMARY_COLUMNS).where(Patient.id == patient_id)).first()
    if row is None:
        raise NotFound("patient", patient_id)
    return PatientSummary.model_validate(dict(row._mapping))


def count_patients(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Patient)).scalar_one())


# --- encounters -----------------------------------------------------------------------------------------

def create_encounter(session: Session, actor: Actor, patient_id: int, data: EncounterCreate) -> Encounter:
    if session.get(Patient, patient_id) is None:
        raise NotFound("patient", patient_id)
    _check_ref(session, OrgUnit, data.department_id, "department_id", "org unit")
    _check_ref(session, Staff, data.provider_id, "provider_id", "staff member")
    enc = Encounter(patient_id=patient_id, **data.model_dump())
    session.add(enc)
    session.flush()
    record(session, actor, "encounter.create", "encounter", enc.id, patient_id=patient_id,
           details={"type": data.type.value})
    if enc.discharge_at is not None:
        _announce_discharge(session, enc)
    return enc


def update_encounter(session: Session, actor: Actor, encounter_id: int, *, discharge_at: dt.datetime) -> Encounter:
    """Record (or correct) an encounter's discharge time; the first one announces the discharge."""
    enc = get_or_404(session, Encounter, encounter_id, "encounter")
    if discharge_at.tzinfo is None:
        raise BadRequest("discharge_at needs a time zone, e.g. 2024-03-01T09:30:00Z")
    if discharge_at < enc.admit_at:
        raise BadRequest(f"discharge_at must not be before admit_at ({enc.admit_at.isoformat()})")
    newly = enc.discharge_at is None
    enc.discharge_at = discharge_at
    session.flush()
    record(session, actor, "encounter.update", "encounter", enc.id, patient_id=enc.patient_id,
           details={"fields": ["discharge_at"]})
    if newly:
        _announce_discharge(session, enc)
    return enc


def _announce_discharge(session: Session, enc: Encounter) -> None:
    """The event ``people.encounter_discharged``: a job row in this transaction (at most one per encounter).

    Features subscribe with ``@jobs.handler(ENCOUNTER_DISCHARGED)`` (feedback invites the patient to a survey).
    """
    enqueue(session, ENCOUNTER_DISCHARGED, {"encounter_id": enc.id}, dedupe_key=f"encounter-discharged:{enc.id}")


def list_encounters(session: Session, actor: Actor, patient_id: int,
                    params: PageParams | None = None) -> tuple[list[Encounter], int]:
    """A patient's encounters, newest first. Visit dates are PHI, so the read is audited."""
    if session.get(Patient, patient_id) is None:
        raise NotFound("patient", patient_id)
    params = params or PageParams(limit=500, offset=0)
    stmt = select(Encounter).where(Encounter.patient_id == patient_id)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = list(session.execute(
        stmt.order_by(Encounter.admit_at.desc(), Encounter.id.desc()).limit(params.limit).offset(params.offset)
    ).scalars())
    record(session, actor, "encounter.list", "patient", patient_id, patient_id=patient_id,
           details={"returned": len(rows)})
    return rows, int(total)

"""People service: patients sealed and audited, HMAC lookups, updates, org units and staff."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import BadRequest, Conflict, NotFound
from pxm.platform.http.pagination import PageParams
from pxm.platform.people import service
from pxm.platform.people.schemas import (
    EncounterCreate,
    OrgUnitCreate,
    OrgUnitUpdate,
    PatientCreate,
    PatientUpdate,
    StaffCreate,
    StaffUpdate,
)

ACTOR = Actor.for_user(0, "tester", "admin", request_id="t1")


def _patient(db, mrn="MRN-100", **kw):
    data = dict(mrn=mrn, given_name="Zebulon", family_name="Quartermaine", birth_date="1961-04-05", sex="m",
                zip_code="60614", phone="(312) 555-0142", email="Zeb.Q@example.org", conditions=["Diabetes"])
    data.update(kw)
    return service.create_patient(db, ACTOR, PatientCreate(**data))


def _events(db, action, patient_id=None):
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    return list(db.execute(stmt).scalars())


def test_create_seals_phi_and_derives_deidentified_fields(db):
    p = _patient(db)
    raw = db.execute(text("SELECT given_name, mrn, email, mrn_index, birth_year, zip3 FROM patients WHERE id = :i"),
                     {"i": p.id}).one()
    assert b"Zebulon" not in bytes(raw.given_name) and b"MRN-100" not in bytes(raw.mrn)
    assert raw.mrn_index == service.mrn_index("MRN-100") and len(raw.mrn_index) == 64
    assert raw.birth_year == 1961 and raw.zip3 == "606"
    assert p.email == "zeb.q@example.org" and p.phone == "3125550142" and p.sex == "M"
    assert p.conditions == ["diabetes"]
    created = _events(db, "patient.create", p.id)
    assert len(created) == 1 and "Zebulon" not in str(created[0].details)


def test_get_patient_decrypts_and_audits_every_read(db):
    p = _patient(db)
    db.expunge_all()
    got = service.get_patient(db, ACTOR, p.id, purpose="callback")
    assert (got.given_name, got.family_name, got.mrn) == ("Zebulon", "Quartermaine", "MRN-100")
    service.get_patient(db, ACTOR, p.id)
    reads = _events(db, "patient.read", p.id)
    assert len(reads) == 2 and reads[0].details == {"purpose": "callback"}
    with pytest.raises(NotFound):
        service.get_patient(db, ACTOR, 10**9)


def test_lookup_by_mrn_and_email_uses_hmac_index(db):
    a = _patient(db, mrn="A-1", email="family@example.org")
    b = _patient(db, mrn="A-2", email="Family@Example.org ", given_name="Ada")
    assert service.find_patient_by_mrn(db, ACTOR, " a-1 ").id == a.id  # index normalises case/space
    assert service.find_patient_by_mrn(db, ACTOR, "nope") is None
    found = service.find_patients_by_email(db, ACTOR, "FAMILY@example.org")
    assert [p.id for p in found] == [a.id, b.id]
    assert len(_events(db, "patient.read", a.id)) == 2
    misses = [e for e in _events(db, "patient.lookup") if e.outcome == "not_found"]
    assert misses and misses[-1].details == {"by": "mrn"}


def test_duplicate_mrn_is_refused(db):
    _patient(db, mrn="DUP-1")
    with pytest.raises(Conflict, match="mrn"):
        _patient(db, mrn="dup-1")


def test_update_changes_fields_and_audits_names_only(db):
    p = _patient(db)
    other = _patient(db, mrn="MRN-200")
    up = service.update_patient(db, ACTOR, p.id, PatientUpdate(email="new@example.org", zip_code="10001",
                                                             birth_date="1931-01-01"))
    assert up.email == "new@example.org" and up.zip3 == "100"
    assert up.birth_year == max(1931, dt.date.today().year - 90)
    assert service.find_patient_by_email(db, ACTOR, "new@example.org").id == p.id
    assert service.find_patients_by_email(db, ACTOR, "zeb.q@example.org") == [other]
    ev = _events(db, "patient.update", p.id)[-1]
    assert ev.details == {"fields": ["birth_date", "email", "zip_code"]}
    with pytest.raises(Conflict):
        service.update_patient(db, ACTOR, p.id, PatientUpdate(mrn="MRN-200"))
    with pytest.raises(BadRequest, match="given_name"):
        service.update_patient(db, ACTOR, p.id, PatientUpdate(given_name=None))
    with pytest.raises(BadRequest, match="at least one"):
        service.update_patient(db, ACTOR, p.id, PatientUpdate())


def test_list_patients_is_deidentified_and_filtered(db):
    _patient(db, mrn="L-1", preferred_language="es")
    _patient(db, mrn="L-2", zip_code="03601")
    items, total = service.list_patients(db, PageParams(limit=500, offset=0), language="es")
    assert total >= 1 and all(i.preferred_language == "es" for i in items)
    assert set(items[0].model_dump()) == {"id", "birth_year", "sex", "zip3", "preferred_language",
                                          "preferred_channel", "conditions", "home_facility_id"}
    items, _ = service.list_patients(db, PageParams(limit=500, offset=0))
    assert "000" in {i.zip3 for i in items}  # restricted 3-digit ZIP


def test_org_units_staff_and_encounters(db):
    fac = service.create_org_unit(db, ACTOR, OrgUnitCreate(code="T-FAC", name="Test Hospital", kind="facility"))
    dep = service.create_org_unit(db, ACTOR, OrgUnitCreate(code="T-ED", name="Emergency", kind="department",
                                                            parent_id=fac.id))
    with pytest.raises(Conflict):
        service.create_org_unit(db, ACTOR, OrgUnitCreate(code="T-ED", name="x", kind="department"))
    with pytest.raises(BadRequest, match="parent_id"):
        service.update_org_unit(db, ACTOR, fac.id, OrgUnitUpdate(parent_id=dep.id))
    s = service.create_staff(db, ACTOR, StaffCreate(username="maria.t", display_name="Maria T", job_role="agent",
                                                    org_unit_id=dep.id, languages=["EN", "es"],
                                                    reasons=["billing"], channels=["phone"], capacity=3))
    assert s.languages == ["en", "es"] and s.status == "offline"
    before = s.status_since
    service.set_staff_status(db, ACTOR, s.id, "available", at=before + dt.timedelta(minutes=5))
    assert s.status == "available" and s.status_since > before
    rows, total = service.list_staff(db, org_unit_id=dep.id, language="es")
    assert [r.id for r in rows] == [s.id] and total == 1
    assert service.list_staff(db, org_unit_id=dep.id, language="fr")[1] == 0
    service.update_staff(db, ACTOR, s.id, StaffUpdate(capacity=6, reasons=["billing", "scheduling"]))
    assert s.capacity == 6
    p = _patient(db)
    when = dt.datetime(2024, 2, 1, 9, tzinfo=dt.UTC)
    enc = service.create_encounter(db, ACTOR, p.id, EncounterCreate(type="emergency", department_id=dep.id,
                                                                     provider_id=s.id, admit_at=when,
                                                                     discharge_at=when + dt.timedelta(hours=3),
                                                                     charges="1250.50", wait_minutes=42))
    rows, total = service.list_encounters(db, ACTOR, p.id)
    assert total == 1 and rows[0].id == enc.id
    assert _events(db, "encounter.list", p.id)
    with pytest.raises(Conflict, match="staff"):
        service.delete_org_unit(db, ACTOR, dep.id)
    service.deactivate_staff(db, ACTOR, s.id)
    with pytest.raises(Conflict, match="deactivated"):
        service.set_staff_status(db, ACTOR, s.id, "available")
